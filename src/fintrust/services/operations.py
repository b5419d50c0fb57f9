"""What operators do: resolve suspense items, find frozen wallets, watch what waits on them."""

from __future__ import annotations

import datetime as dt
import enum
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select, update

from fintrust.adapters.db.schema import ledger_accounts, orders, outbox, suspense_items
from fintrust.adapters.db.uow import SqlUnitOfWork, as_utc
from fintrust.domain.ledger import SUSPENSE, TRUSTLY, LedgerTransaction, Transfer, wallet
from fintrust.domain.money import Money

__all__ = [
    "FrozenWallet",
    "Resolution",
    "Snapshot",
    "frozen_wallets",
    "resolve_suspense",
    "snapshot",
]

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]
WRITE_OFFS = "expense:write-offs"


class Resolution(enum.Enum):
    TO_CUSTOMER = "to-customer"  # the customer really paid it: give it to them
    REFUNDED = "refunded"  # sent back to the payer at Trustly: the money leaves
    RECOVERED = "recovered"  # a negative item, taken from the customer's wallet
    WRITTEN_OFF = "written-off"  # a negative item, booked as a loss


@dataclass(frozen=True)
class FrozenWallet:
    customer_id: int
    currency: str
    balance: Money
    available: Money


def resolve_suspense(
    uow: UnitOfWorkFactory, item_id: int, resolution: Resolution, note: str
) -> None:
    """Close an open suspense item with the balanced transfer its resolution means. The unique
    reference refuses resolving the same item twice."""
    with uow() as work:
        item = work.connection.execute(
            select(suspense_items).where(suspense_items.c.id == item_id).with_for_update()
        ).first()
        if item is None:
            raise LookupError(f"no suspense item {item_id}")
        if item.status != "open":
            raise ValueError(f"suspense item {item_id} is {item.status} already")
        amount = Money(item.currency, abs(item.amount))
        customer_id = _customer_of(work, item.order_id)
        if item.amount > 0:
            if resolution is Resolution.TO_CUSTOMER:
                debit, credit = SUSPENSE, wallet(_required(customer_id, item_id))
            elif resolution is Resolution.REFUNDED:
                debit, credit = SUSPENSE, TRUSTLY
            else:
                raise ValueError("a positive item is given to the customer or refunded")
        elif resolution is Resolution.RECOVERED:
            debit, credit = wallet(_required(customer_id, item_id)), SUSPENSE
        elif resolution is Resolution.WRITTEN_OFF:
            debit, credit = WRITE_OFFS, SUSPENSE
        else:
            raise ValueError("a negative item is recovered from the customer or written off")
        work.ledger.record(
            LedgerTransaction(
                f"suspense:{item_id}:resolve",
                f"suspense {item_id} {resolution.value}: {note}",
                (Transfer(str(uuid_module.uuid4()), debit, credit, amount),),
            ),
            # Recovering from a wallet may take it below zero, as a debit would.
            enforce_no_overdraft=False,
        )
        work.connection.execute(
            update(suspense_items)
            .where(suspense_items.c.id == item_id)
            .values(
                status="resolved", resolution=f"{resolution.value}: {note}", resolved_at=work.now
            )
        )
        work.commit()


def _customer_of(work: SqlUnitOfWork, order_id: int | None) -> int | None:
    order = work.orders.get(order_id) if order_id is not None else None
    return int(order.customer_id) if order is not None else None


def _required(customer_id: int | None, item_id: int) -> int:
    if customer_id is None:
        raise ValueError(f"suspense item {item_id} has no order, so no customer")
    return customer_id


def _frozen() -> tuple[ColumnElement[bool], ...]:
    """The conditions of a frozen wallet: its available balance is below zero."""
    a = ledger_accounts.c
    return (
        a.code.startswith(wallet("")),
        a.credits_posted - a.debits_posted - a.debits_pending < 0,
    )


def frozen_wallets(uow: UnitOfWorkFactory) -> list[FrozenWallet]:
    """Wallets below zero (a deposit taken back after it was used): they pay nothing out."""
    prefix = wallet("")
    with uow() as work:
        rows = work.connection.execute(select(ledger_accounts).where(*_frozen())).all()
    return [
        FrozenWallet(
            int(row.code.removeprefix(prefix)),
            row.currency,
            Money(row.currency, row.credits_posted - row.debits_posted),
            Money(row.currency, row.credits_posted - row.debits_posted - row.debits_pending),
        )
        for row in rows
    ]


@dataclass(frozen=True)
class Snapshot:
    """What waits, now: on the worker (calls not sent yet, by method and whether an earlier
    attempt's outcome is unknown), on Trustly (payouts in flight) and on an operator."""

    calls_waiting: dict[tuple[str, str], int]  # (method, "new" | "retrying") -> calls
    oldest_call_waiting: dt.timedelta | None
    payouts_in_flight: int
    open_suspense_items: int
    frozen_wallets: int


def snapshot(uow: UnitOfWorkFactory) -> Snapshot:
    o = outbox.c
    retrying = o.attempts > 0
    with uow() as work:
        db = work.connection
        waiting = db.execute(
            select(o.method, retrying, func.count(), func.min(o.created_at))
            .where(o.status == "pending")
            .group_by(o.method, retrying)
        ).all()
        in_flight = db.execute(
            select(func.count()).where(
                orders.c.kind == "payout", orders.c.state.in_(("requested", "sent"))
            )
        ).scalar_one()
        suspense = db.execute(
            select(func.count()).where(suspense_items.c.status == "open")
        ).scalar_one()
        frozen = db.execute(select(func.count()).where(*_frozen())).scalar_one()
        now = work.now
    oldest = min((as_utc(row[3]) for row in waiting), default=None)
    return Snapshot(
        calls_waiting={
            (method, "retrying" if again else "new"): int(count)
            for method, again, count, _ in waiting
        },
        oldest_call_waiting=now - oldest if oldest is not None else None,
        payouts_in_flight=int(in_flight),
        open_suspense_items=int(suspense),
        frozen_wallets=int(frozen),
    )
