"""What the customer pages show, read in one unit of work: wallets, history, destinations.

Read-only: nothing here changes state. States and notification methods are put in the
customer's words here, once, so every page and the status JSON say the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy.engine import Row

from fintrust.adapters.db.uow import SqlUnitOfWork, as_utc
from fintrust.domain.ledger import wallet
from fintrust.domain.money import Money

__all__ = [
    "CustomerCard",
    "DepositStatus",
    "Event",
    "HistoryEntry",
    "WalletLine",
    "customer_cards",
    "deposit_status",
    "history",
    "payout_destination",
    "wallets",
]

Tone = Literal["ok", "pending", "bad", "review"]

# order kind -> state -> (words, tone)
_STATES: dict[str, dict[str, tuple[str, Tone]]] = {
    "deposit": {
        "created": ("Starting", "pending"),
        "started": ("Waiting for you at the bank", "pending"),
        "pending": ("Processing", "pending"),
        "credited": ("Received", "ok"),
        "reversed": ("Reversed by the bank", "bad"),
        "cancelled": ("Cancelled", "bad"),
        "review": ("Under review", "review"),
        "failed": ("Not started", "bad"),
    },
    "payout": {
        "requested": ("Pending", "pending"),
        "sent": ("Pending", "pending"),
        "confirmed": ("Paid out", "ok"),
        "failed": ("Failed, back in your wallet", "bad"),
        "returned": ("Returned to your wallet", "bad"),
    },
}

_EVENTS: dict[str, str] = {
    "pending": "Payment started at the bank",
    "credit": "Money received",
    "debit": "Taken back by the bank",
    "cancel": "Cancelled",
    "account": "Bank account confirmed",
    "payoutconfirmation": "Sent to your bank",
    "payoutfailed": "Payout failed",
    "kyc": "Identity checked",
}

# The deposit's status for the return page: processing until a notification settles it.
DepositStatus = Literal["processing", "credited", "reversed", "cancelled", "failed", "review"]
_DEPOSIT_STATUS: dict[str, DepositStatus] = {
    "created": "processing",
    "started": "processing",
    "pending": "processing",
    "credited": "credited",
    "reversed": "reversed",
    "cancelled": "cancelled",
    "failed": "failed",
    "review": "review",
}


@dataclass(frozen=True)
class WalletLine:
    currency: str
    posted: Money  # the balance
    available: Money  # what can be withdrawn now
    reserved: Money  # held for withdrawals not yet paid out

    @property
    def frozen(self) -> bool:
        """Below zero (a deposit taken back after it was used): no withdrawals."""
        return self.posted.minor < 0


@dataclass(frozen=True)
class CustomerCard:
    id: int
    name: str
    country: str
    wallets: list[WalletLine]

    @property
    def initials(self) -> str:
        return "".join(part[:1] for part in self.name.split()[:2]).upper() or "?"


@dataclass(frozen=True)
class Event:
    method: str
    label: str
    received_at: dt.datetime


@dataclass(frozen=True)
class HistoryEntry:
    order_id: int
    kind: Literal["deposit", "withdrawal"]
    amount: Money | None
    state: str
    label: str
    tone: Tone
    created_at: dt.datetime
    events: list[Event]


def wallets(work: SqlUnitOfWork, customer_id: int) -> list[WalletLine]:
    return [
        WalletLine(
            account.currency,
            account.posted,
            account.available,
            Money(account.currency, account.debits_pending),
        )
        for account in work.ledger.accounts(code=wallet(customer_id))
    ]


def customer_cards(work: SqlUnitOfWork, limit: int = 50) -> list[CustomerCard]:
    return [
        CustomerCard(row.id, row.name, row.country, wallets(work, row.id))
        for row in work.customers.all()[:limit]
    ]


def state_words(kind: str, state: str) -> tuple[str, Tone]:
    return _STATES.get(kind, {}).get(state, (state.capitalize(), "pending"))


def history(work: SqlUnitOfWork, customer_id: int, limit: int = 25) -> list[HistoryEntry]:
    """The latest orders, newest first, each with the notifications received for it."""
    entries = []
    for row in work.orders.of_customer(customer_id)[:limit]:
        label, tone = state_words(row.kind, row.state)
        entries.append(
            HistoryEntry(
                order_id=row.id,
                kind="deposit" if row.kind == "deposit" else "withdrawal",
                amount=Money(row.currency, row.amount) if row.amount is not None else None,
                state=row.state,
                label=label,
                tone=tone,
                created_at=as_utc(row.created_at),
                events=[
                    Event(n.method, _EVENTS.get(n.method, n.method), as_utc(n.received_at))
                    for n in work.inbox.of_order(row.id)
                ],
            )
        )
    return entries


def payout_destination(work: SqlUnitOfWork, customer_id: int) -> str | None:
    """The account a withdrawal goes to (the one the customer deposited from), masked."""
    for account in work.bank_accounts.of_customer(customer_id):
        if account.verified:
            bank = account.bank or "your bank"
            digits = (account.last_digits or account.descriptor or "")[-4:]  # never more
            return f"{bank} account ending {digits}" if digits else f"{bank} account"
    return None


def deposit_status(order: Row[Any], balance: WalletLine | None) -> dict[str, Any]:
    """The deposit return page's JSON: where the deposit is, and the wallet once credited."""
    status = _DEPOSIT_STATUS.get(order.state, "processing")
    currency = order.currency
    credited = Money(currency, order.credited) if order.credited else None
    return {
        "order_id": order.id,
        "status": status,
        "state": order.state,
        "amount": str(Money(currency, order.amount).amount) if order.amount else None,
        "currency": currency,
        "credited": str(credited.amount) if credited else None,
        "balance": str(balance.posted.amount) if balance else None,
        "available": str(balance.available.amount) if balance else None,
    }
