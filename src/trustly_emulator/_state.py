"""Everything the emulator remembers: merchants, orders, notifications and their delivery attempts,
bank accounts, balances and the merchant ledger. Plain data, kept in memory, snapshot as JSON."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

__all__ = [
    "BankAccount",
    "DeliveryAttempt",
    "LedgerEntry",
    "MerchantState",
    "NotificationRecord",
    "Order",
    "Store",
    "plain",
    "plain_dict",
]

# Notifications that merchants must ask Trustly to enable; off by default, as in live.
OPTIONAL_NOTIFICATIONS = ("account", "payoutconfirmation", "payoutfailed")


@dataclass
class MerchantState:
    username: str
    password: str = field(repr=False, metadata={"secret": True})
    public_key_pem: str | None = None
    notifications: set[str] = field(default_factory=set)  # enabled OPTIONAL_NOTIFICATIONS
    balances: dict[str, Decimal] = field(default_factory=dict)  # money held at "Trustly"

    def wants(self, method: str) -> bool:
        return method not in OPTIONAL_NOTIFICATIONS or method in self.notifications


@dataclass
class BankAccount:
    account_id: str
    end_user_id: str
    bank: str
    clearing_house: str
    country: str
    bank_number: str
    account_number: str
    holder: str

    @property
    def descriptor(self) -> str:
        return f"**{self.account_number[-4:]}"

    @property
    def last_digits(self) -> str:
        return self.account_number[-6:]


@dataclass
class DeliveryAttempt:
    at: float
    request: str
    status: int | None
    response: str
    latency_ms: float
    verdict: str  # "ok", or why the attempt does not count as delivered
    reply_status: str | None = None


@dataclass
class NotificationRecord:
    notification_id: str
    uuid: str
    method: str
    merchant: str
    order_id: str
    url: str
    data: dict[str, Any]
    due_at: float
    state: str = "scheduled"  # scheduled | held | delivered | failed | not-sent
    fired: bool = False  # the event behind it has happened (its effect is applied once)
    on_reply: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # status -> steps
    duplicates_left: int = 0
    attempts: list[DeliveryAttempt] = field(default_factory=list)
    reply_status: str | None = None
    amount_factor: str = "1"  # of the order's amount, for money notifications
    error_code: str | None = None  # payoutfailed


@dataclass
class Order:
    order_id: str
    merchant: str
    method: str  # Deposit, SelectAccount, Withdraw, AccountPayout, Refund, Charge
    message_id: str
    end_user_id: str
    notification_url: str
    currency: str | None
    amount: Decimal | None
    attributes: dict[str, Any]
    created_at: float
    session_id: str
    state: str = "created"
    account_id: str | None = None
    scenario: str | None = None
    parent_order_id: str | None = None  # a Refund's deposit
    credited: Decimal = Decimal(0)  # credited and not debited back (deposits)
    refunded: Decimal = Decimal(0)
    transfer_state: str | None = None  # payouts, as GetWithdrawals reports it
    paid_out: bool = False  # a payout's money has left the merchant's balance
    payout_error: str | None = None
    modified_at: float = 0.0
    last_activity: float = 0.0  # the end user's last step in the checkout
    events: list[str] = field(default_factory=list)

    def log(self, when: float, text: str) -> None:
        self.modified_at = when
        self.events.append(text)


@dataclass
class LedgerEntry:
    at: float
    merchant: str
    order_id: str
    message_id: str
    end_user_id: str
    account_name: str
    transaction_type: str
    currency: str
    amount: Decimal
    gluepay_id: str


@dataclass
class Store:
    """The emulator's state. Mutated only from the event loop, so it needs no locks."""

    seed: int | None = None  # None: a random generator
    merchants: dict[str, MerchantState] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    notifications: dict[str, NotificationRecord] = field(default_factory=dict)
    accounts: dict[str, BankAccount] = field(default_factory=dict)
    ledger: list[LedgerEntry] = field(default_factory=list)
    # (merchant, uuid) -> (request body, response body): identical re-sends get the same answer
    requests: dict[tuple[str, str], tuple[bytes, bytes]] = field(default_factory=dict)
    message_ids: dict[tuple[str, str], str] = field(default_factory=dict)  # -> order id
    last_account: dict[tuple[str, str], str] = field(default_factory=dict)  # (merchant, user)
    _ids: random.Random = field(default_factory=random.Random, repr=False)
    _used_ids: set[str] = field(default_factory=set, repr=False)
    _by_order: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._ids.seed(self.seed)

    def new_id(self) -> str:
        """A fresh 10-digit numeric id, as Trustly's order, notification and account ids look."""
        while True:
            candidate = str(self._ids.randrange(1_000_000_000, 9_999_999_999))
            if candidate not in self._used_ids:
                self._used_ids.add(candidate)
                return candidate

    def order(self, order_id: str) -> Order | None:
        return self.orders.get(str(order_id))

    def add_notification(self, record: NotificationRecord) -> None:
        self.notifications[record.notification_id] = record
        self._by_order.setdefault(record.order_id, []).append(record.notification_id)

    def notifications_of(self, order_id: str) -> list[NotificationRecord]:
        return [self.notifications[i] for i in self._by_order.get(order_id, [])]

    def balance(self, merchant: str, currency: str) -> Decimal:
        return self.merchants[merchant].balances.get(currency, Decimal("0.00"))

    def move(self, entry: LedgerEntry) -> None:
        """Book ``entry`` and move the merchant's balance with it."""
        balances = self.merchants[entry.merchant].balances
        balances[entry.currency] = balances.get(entry.currency, Decimal("0.00")) + entry.amount
        self.ledger.append(entry)

    def snapshot(self) -> dict[str, Any]:
        """Everything, as JSON-ready data (decimals as strings)."""
        return {
            "seed": self.seed,
            "merchants": [plain(m) for m in self.merchants.values()],
            "orders": [plain(o) for o in self.orders.values()],
            "notifications": [plain(n) for n in self.notifications.values()],
            "accounts": [plain(a) for a in self.accounts.values()],
            "ledger": [plain(e) for e in self.ledger],
        }


def plain(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {
            f.name: plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.name.startswith("_") and not f.metadata.get("secret")
        }
    if isinstance(obj, Decimal):
        return str(obj)
    if isinstance(obj, set):
        return sorted(obj)
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj


def plain_dict(obj: Any) -> dict[str, Any]:
    data: dict[str, Any] = plain(obj)
    return data
