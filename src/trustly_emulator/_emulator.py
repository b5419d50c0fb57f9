"""The emulator: state, clock, keys, delivery, and the operations the API, the checkout pages
and the control plane share."""

from __future__ import annotations

import collections
import heapq
import secrets
import uuid as uuid_module
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import httpx

from fintrust.trustly import Verifier
from trustly_emulator._banks import BANKS, Bank, accounts_for
from trustly_emulator._clock import Clock, SystemClock, trustly_timestamp
from trustly_emulator._config import EmulatorConfig, EmulatorKeys, MerchantConfig
from trustly_emulator._delivery import Dispatcher
from trustly_emulator._events import notification_data
from trustly_emulator._faults import FaultRules
from trustly_emulator._jsonrpc import handle_request
from trustly_emulator._methods import HANDLERS
from trustly_emulator._scenarios import Scenario, Step, default_scenario, scenario
from trustly_emulator._state import BankAccount, MerchantState, NotificationRecord, Order, Store
from trustly_emulator._validation import RpcError

__all__ = ["ApiError", "Emulator"]


@dataclass(frozen=True)
class ApiError:
    at: float
    method: str | None
    uuid: str | None
    code: int
    name: str
    detail: str


class Emulator:
    """One emulated Trustly. Use :func:`trustly_emulator.create_app` to serve it."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        clock: Clock | None = None,
        keys: EmulatorKeys | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.clock = clock or SystemClock()
        if keys is None:
            data_dir = self.config.data_dir
            keys = EmulatorKeys.load_or_create(data_dir) if data_dir else EmulatorKeys.ephemeral()
        self.keys = keys
        self.faults = FaultRules()
        self.dispatcher = Dispatcher(self, http_client)
        self.api_errors: collections.deque[ApiError] = collections.deque(maxlen=200)
        self._verifiers: dict[str, Verifier] = {}
        # Which scenario AccountPayouts run (they have no checkout to pick one in): the first
        # rule matching the merchant and end user wins, else the default.
        self.payout_rules: list[dict[str, Any]] = []
        self.store = Store(seed=self.config.seed)
        self._checkouts: list[tuple[float, str]] = []  # heap of (abandonment deadline, order id)
        for merchant in self.config.merchants:
            self.add_merchant(merchant)

    # ------------------------------------------------------------------ merchants and API

    def add_merchant(self, merchant: MerchantConfig) -> MerchantState:
        state = MerchantState(
            username=merchant.username,
            password=merchant.password,
            public_key_pem=merchant.public_key_pem,
            notifications=set(merchant.notifications),
            balances={c: Decimal(v) for c, v in merchant.balances.items()},
        )
        self.store.merchants[merchant.username] = state
        self._verifiers.pop(merchant.username, None)
        return state

    def merchant_verifier(self, username: str) -> Verifier:
        if username not in self._verifiers:
            pem = self.store.merchants[username].public_key_pem
            if not pem:
                raise RpcError(639, "ERROR_NO_PUBLIC_KEY")
            self._verifiers[username] = Verifier.from_pem(pem)
        return self._verifiers[username]

    def handle_api(self, body: bytes) -> bytes:
        return handle_request(self, body, HANDLERS)

    def record_api_error(self, method: str | None, uuid: str | None, error: RpcError) -> None:
        self.api_errors.append(
            ApiError(self.clock.now(), method, uuid, error.code, error.name, error.detail)
        )

    def reset(self) -> None:
        """Forget every order, notification, account and balance; keep merchants and keys."""
        merchants = [
            MerchantConfig(m.username, m.password, m.public_key_pem, frozenset(m.notifications))
            for m in self.store.merchants.values()
        ]
        self.store = Store(seed=self.config.seed)
        self._checkouts.clear()
        self.dispatcher.forget()
        self.faults.clear()
        self.api_errors.clear()
        for merchant in merchants:
            self.add_merchant(merchant)

    # ------------------------------------------------------------------ orders

    def new_session_id(self) -> str:
        return str(uuid_module.UUID(bytes=secrets.token_bytes(16)))

    def checkout_url(self, order: Order) -> str:
        locale = order.attributes.get("Locale") or "en_GB"
        query = urlencode(
            {"OrderID": order.order_id, "SessionID": order.session_id, "Locale": locale}
        )
        return f"{self.config.base_url.rstrip('/')}/checkout?{query}"

    def scenario_of(self, order: Order) -> Scenario:
        kind = "AccountPayout" if order.method == "Refund" else order.method
        return scenario(order.scenario) if order.scenario else default_scenario(kind)

    def register_bank_account(
        self,
        *,
        end_user_id: str,
        bank: str,
        clearing_house: str,
        bank_number: str,
        account_number: str,
        holder: str,
    ) -> BankAccount:
        """The same bank details always give the same AccountID."""
        for account in self.store.accounts.values():
            if (account.clearing_house, account.bank_number, account.account_number) == (
                clearing_house, bank_number, account_number,
            ):  # fmt: skip
                return account
        account = BankAccount(
            account_id=self.store.new_id(),
            end_user_id=end_user_id,
            bank=bank,
            clearing_house=clearing_house,
            country=clearing_house[:2],
            bank_number=bank_number,
            account_number=account_number,
            holder=holder,
        )
        self.store.accounts[account.account_id] = account
        return account

    def account_at(
        self, bank: Bank, identifier: str, account_number: str, holder: str, end_user_id: str
    ) -> BankAccount:
        numbers = {number for number, _ in accounts_for(bank, identifier)}
        if account_number not in numbers:
            raise ValueError("that account is not one of this login's accounts")
        return self.register_bank_account(
            end_user_id=end_user_id,
            bank=bank.name,
            clearing_house=bank.clearing_house,
            bank_number=bank.bank_number,
            account_number=account_number,
            holder=holder,
        )

    def plan(
        self, order: Order, steps: Iterable[Step], *, start: float | None = None
    ) -> list[NotificationRecord]:
        """Schedule ``steps`` for ``order``, each ``after`` seconds after the previous one."""
        steps = list(steps)
        shuffle = self.faults.take("shuffle", order.merchant, order.order_id, None)
        if shuffle is not None:
            self.store._ids.shuffle(steps)
        delay = self.faults.take("delay", order.merchant, order.order_id, None)
        due = (start if start is not None else self.clock.now()) + (delay.seconds if delay else 0)
        url = order.notification_url
        if order.parent_order_id:  # a Refund's notifications go to the deposit's URL
            url = self.store.orders[order.parent_order_id].notification_url
        records = []
        for step in steps:
            due += step.after
            record = NotificationRecord(
                notification_id=self.store.new_id(),
                uuid=str(uuid_module.uuid4()),
                method=step.event,
                merchant=order.merchant,
                order_id=order.order_id,
                url=url,
                data={},
                due_at=due,
                on_reply={k: [s.model_dump() for s in v] for k, v in step.on_reply.items()},
                amount_factor=str(step.amount),
                error_code=step.error,
            )
            self.store.add_notification(record)
            self.dispatcher.schedule(record, due)
            records.append(record)
        if self.scenario_of(order).delivery.duplicate:
            for record in records:
                record.duplicates_left = 1
        return records

    def on_reply(self, record: NotificationRecord, status: str) -> None:
        """A notification was delivered: start the steps its scenario chose for this reply."""
        branch = record.on_reply.get(status)
        if branch:
            order = self.store.orders[record.order_id]
            self.plan(order, [Step.model_validate(s) for s in branch])

    def complete_checkout(
        self,
        order: Order,
        *,
        scenario_id: str | None = None,
        account: BankAccount | None = None,
        amount: Decimal | None = None,
    ) -> Order:
        """The end user finished the checkout: run the chosen (or default) scenario."""
        if order.state not in ("created", "checkout"):
            raise ValueError(f"order {order.order_id} is {order.state}; it cannot be completed")
        chosen = scenario(scenario_id) if scenario_id else default_scenario(order.method)
        if order.method not in chosen.applies_to:
            raise ValueError(f"scenario {chosen.id} is not for {order.method} orders")
        order.scenario = chosen.id
        if order.amount is None and order.method in ("Deposit", "Withdraw"):
            # The end user chose it in the checkout (no fixed Amount/SuggestedAmount was sent).
            order.amount = amount or _suggested_amount(order)
        if account is None:
            account = self._default_account(order)
        order.account_id = account.account_id
        order.state = "checkout" if order.method != "Withdraw" else "awaiting debit"
        if order.method == "Withdraw":
            order.transfer_state = "PENDING"
        order.log(self.clock.now(), f"checkout completed with {chosen.id}")
        self.plan(order, chosen.steps)
        return order

    def _default_account(self, order: Order) -> BankAccount:
        remembered = self.store.last_account.get((order.merchant, order.end_user_id))
        if remembered and remembered in self.store.accounts:
            return self.store.accounts[remembered]
        country = order.attributes.get("Country") or "SE"
        bank = BANKS.get(country, BANKS["SE"])[0]
        identifier = f"headless-{order.end_user_id}"
        number, _ = accounts_for(bank, identifier)[0]
        holder = f"{order.attributes.get('Firstname', '')} {order.attributes.get('Lastname', '')}"
        return self.account_at(bank, identifier, number, holder.strip(), order.end_user_id)

    def adopt_order(
        self,
        *,
        merchant: str,
        method: str,
        order_id: str,
        message_id: str,
        end_user_id: str,
        notification_url: str,
        amount: Decimal | None,
        currency: str | None,
        attributes: dict[str, Any] | None = None,
    ) -> Order:
        """Take over an order created elsewhere (by another Trustly, or by the merchant through a
        test hook), so that scenarios can be run on it: the acceptance runner does this."""
        order = Order(
            order_id=order_id,
            merchant=merchant,
            method=method,
            message_id=message_id,
            end_user_id=end_user_id,
            notification_url=notification_url,
            currency=currency,
            amount=amount,
            attributes=attributes or {},
            created_at=self.clock.now(),
            session_id=self.new_session_id(),
        )
        self.add_order(order)
        return order

    def cancel_order(self, order: Order, reason: str) -> Order:
        """The end user closed or abandoned the checkout: cancel now."""
        if order.state not in ("created", "checkout"):
            raise ValueError(f"order {order.order_id} is {order.state}; it cannot be cancelled")
        order.state = "cancelling"
        order.log(self.clock.now(), f"cancelled: {reason}")
        self.plan(order, [Step(event="cancel")])
        return order

    def add_order(self, order: Order) -> None:
        self.store.orders[order.order_id] = order
        # A Refund carries its deposit's MessageID; the deposit keeps the entry.
        self.store.message_ids.setdefault((order.merchant, order.message_id), order.order_id)
        if order.method in _CHECKOUT_METHODS:
            self.touch(order)

    def touch(self, order: Order) -> None:
        """The end user did something in the checkout: the inactivity timer starts again."""
        order.last_activity = self.clock.now()
        if _abandonable(order):
            deadline = order.last_activity + self.config.abandon_after
            heapq.heappush(self._checkouts, (deadline, order.order_id))
            self.dispatcher.wake()

    def abandonment_due(self) -> float | None:
        """When the next checkout left without activity will count as abandoned."""
        while self._checkouts:
            deadline, order_id = self._checkouts[0]
            order = self.store.orders.get(order_id)
            if (
                order is not None
                and _abandonable(order)
                and deadline == order.last_activity + self.config.abandon_after
            ):
                return deadline
            heapq.heappop(self._checkouts)  # completed, cancelled, touched again or reset
        return None

    def expire_abandoned(self) -> None:
        """Cancel every checkout without activity for ``abandon_after`` seconds (Trustly: 10-30
        minutes)."""
        while (due := self.abandonment_due()) is not None and due <= self.clock.now():
            order = self.store.orders[heapq.heappop(self._checkouts)[1]]
            self.cancel_order(order, "abandoned: no activity in the checkout")

    def custom_notification(
        self,
        method: str,
        data: dict[str, Any],
        *,
        order_id: str | None = None,
        url: str | None = None,
        merchant: str | None = None,
    ) -> NotificationRecord:
        """A notification outside any scenario (no effect on state), ready to send now: for an
        order (its usual data, overridden by ``data``) or for any URL of ``merchant``."""
        now = self.clock.now()
        record = NotificationRecord(
            notification_id=self.store.new_id(),
            uuid=str(uuid_module.uuid4()),
            method=method,
            merchant=merchant or "",
            order_id=order_id or "",
            url=url or "",
            data={},
            due_at=now,
            state="sent by hand",
            fired=True,
        )
        if order_id is not None:
            order = self.store.orders[order_id]
            record.merchant, record.url = order.merchant, url or order.notification_url
            record.data = notification_data(self.store, order, record, now)
        elif url is None or merchant not in self.store.merchants:
            raise ValueError("give an order_id, or a url and a known merchant")
        else:
            record.data = {
                "notificationid": record.notification_id,
                "timestamp": trustly_timestamp(now),
            }
        record.data.update(data)
        self.store.add_notification(record)
        return record

    # ------------------------------------------------------------------ time and delivery

    async def deliver_due(self) -> int:
        return await self.dispatcher.deliver_due()

    async def advance(self, seconds: float) -> int:
        """Move the clock forward, delivering everything that falls due on the way, in order."""
        advance = self.clock.advance
        attempts = await self.deliver_due()
        target = self.clock.now() + seconds
        while (next_due := self.dispatcher.next_due()) is not None and next_due <= target:
            advance(max(0.0, next_due - self.clock.now()))
            attempts += await self.deliver_due()
        advance(max(0.0, target - self.clock.now()))
        return attempts + await self.deliver_due()

    async def redeliver(self, notification_id: str) -> NotificationRecord:
        """Deliver a notification again now (held, failed or already delivered)."""
        record = self.store.notifications[notification_id]
        if not record.fired:
            raise ValueError("this notification's event has not happened yet")
        await self.dispatcher.attempt(record)
        return record

    async def aclose(self) -> None:
        await self.dispatcher.aclose()


_CHECKOUT_METHODS = ("Deposit", "SelectAccount", "Withdraw")


def _abandonable(order: Order) -> bool:
    return order.method in _CHECKOUT_METHODS and order.state == "created"


def _suggested_amount(order: Order) -> Decimal:
    low = order.attributes.get("SuggestedMinAmount")
    return Decimal(low) if low else Decimal("100.00")
