"""Orders and notifications written straight through the services, for the db tests."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import totals_balance
from fintrust.domain.money import Money
from fintrust.services.customers import register_customer
from fintrust.trustly import build_notification
from tests.conftest import KeyPair

Uow = Callable[[], SqlUnitOfWork]

_ids = itertools.count(1_000_000_000)


def new_id() -> str:
    return str(next(_ids))


def customer(uow: Uow, end_user_id: str = "cust-1", currency: str = "EUR") -> int:
    return register_customer(
        uow,
        end_user_id=end_user_id,
        firstname="Åsa",
        lastname="Öberg",
        country="SE",
        locale="sv_SE",
        currency=currency,
    )


def deposit_order(uow: Uow, customer_id: int, amount: str, currency: str = "EUR") -> Any:
    """A deposit whose Deposit call Trustly answered (it has Trustly's order id)."""
    with uow() as work:
        order_id = work.orders.add(
            kind="deposit",
            product="wallet",
            customer_id=customer_id,
            message_id=f"deposit-{uuid.uuid4()}",
            trustly_order_id=new_id(),
            currency=currency,
            amount=Money.of(amount, currency).minor,
            state="started",
        )
        work.commit()
        row = work.orders.get(order_id)
    assert row is not None
    return row


def signed(
    keys: KeyPair, method: str, order: Any, *, notification_id: str | None = None, **extra: Any
) -> bytes:
    """A notification about ``order`` as Trustly would sign it."""
    data: dict[str, Any] = {
        "notificationid": notification_id or new_id(),
        "orderid": order.trustly_order_id,
        "messageid": order.message_id,
        "enduserid": "cust-1",
        "timestamp": "2026-01-01 12:00:00.000000+00",
        "attributes": {},
    }
    if method in ("pending", "credit", "debit", "payoutconfirmation", "payoutfailed"):
        minor = order.amount
        data |= {"amount": str(Money(order.currency, minor).amount), "currency": order.currency}
    data |= extra
    return build_notification(method, str(uuid.uuid4()), data, keys.signer)


def count(uow: Uow, table: Any, *where: Any) -> int:
    with uow() as work:
        query = select(func.count()).select_from(table)
        return int(work.connection.execute(query.where(*where) if where else query).scalar_one())


def assert_books_sound(uow: Uow) -> None:
    with uow() as work:
        assert work.ledger.verify() == []
        assert totals_balance(work.ledger.accounts())
