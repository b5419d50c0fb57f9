"""What ``fintrust emulator trigger`` runs: one order through one scenario, on a skipped clock,
with real deliveries to the merchant's NotificationURL."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from fintrust.trustly import Verifier
from trustly_emulator._clock import ManualClock
from trustly_emulator._config import EmulatorConfig, EmulatorKeys, MerchantConfig
from trustly_emulator._delivery import Dispatcher
from trustly_emulator._emulator import Emulator
from trustly_emulator._scenarios import Scenario
from trustly_emulator._state import DeliveryAttempt, NotificationRecord, Order

__all__ = ["Override", "TriggerRun", "run_trigger"]

TRIGGER_HORIZON = 90 * 24 * 3600.0  # a trigger runs every wait and back-off up to 90 days


@dataclass(frozen=True)
class Override:
    key: str
    value: str
    method: str | None = None  # None: every notification

    def applies(self, method: str) -> bool:
        return self.method is None or self.method == method


class _OverridingDispatcher(Dispatcher):
    """Sets ``overrides`` in each notification's data before every attempt (the data is built
    when the event happens, right before the first attempt)."""

    def __init__(
        self, emulator: Emulator, http: httpx.AsyncClient, overrides: list[Override]
    ) -> None:
        super().__init__(emulator, http)
        self.overrides = overrides

    async def attempt(self, record: NotificationRecord) -> DeliveryAttempt:
        for override in self.overrides:
            if override.applies(record.method):
                record.data[override.key] = override.value
        return await super().attempt(record)


class _UncheckedVerifier(Verifier):
    """Accepts any signature: for a trigger without the merchant's public key."""

    __slots__ = ()

    def verify(self, method: str | None, uuid: str | None, data: Any, signature: Any) -> bool:
        return True


class _TriggerEmulator(Emulator):
    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: ManualClock,
        keys: EmulatorKeys,
        http_client: httpx.AsyncClient,
        overrides: list[Override],
        check_signatures: bool,
    ) -> None:
        super().__init__(config, clock=clock, keys=keys, http_client=http_client)
        self.dispatcher = _OverridingDispatcher(self, http_client, overrides)
        self._unchecked = None if check_signatures else _UncheckedVerifier.from_pem(keys.public_pem)

    def merchant_verifier(self, username: str) -> Verifier:
        if self._unchecked is not None:
            return self._unchecked
        return super().merchant_verifier(username)


@dataclass
class TriggerRun:
    order: Order
    scenario: Scenario
    started: float
    notifications: list[NotificationRecord] = field(default_factory=list)
    signatures_checked: bool = True

    def delivered(self, record: NotificationRecord) -> bool:
        return record.state == "delivered" or (
            record.state == "scheduled" and any(a.verdict.startswith("ok") for a in record.attempts)
        )

    def failures(self) -> list[NotificationRecord]:
        return [n for n in self.notifications if n.state != "not-sent" and not self.delivered(n)]


async def run_trigger(
    *,
    config: EmulatorConfig,
    keys: EmulatorKeys,
    merchant: MerchantConfig,
    chosen: Scenario,
    kind: str,
    notification_url: str,
    amount: Decimal | None,
    currency: str | None,
    end_user_id: str,
    message_id: str,
    order_id: str,
    overrides: list[Override],
    http_client_factory: Callable[[float], httpx.AsyncClient],
) -> TriggerRun:
    checked = merchant.public_key_pem is not None
    clock = ManualClock(start=time.time())
    async with http_client_factory(config.delivery_timeout) as http:
        emulator = _TriggerEmulator(
            config,
            clock=clock,
            keys=keys,
            http_client=http,
            overrides=overrides,
            check_signatures=checked,
        )
        emulator.add_merchant(merchant)
        started = clock.now()
        order = emulator.adopt_order(
            merchant=merchant.username,
            method=kind,
            order_id=order_id,
            message_id=message_id,
            end_user_id=end_user_id,
            notification_url=notification_url,
            amount=amount,
            currency=currency,
        )
        emulator.complete_checkout(order, scenario_id=chosen.id, amount=amount)
        await emulator.advance(TRIGGER_HORIZON)
        await emulator.aclose()
        notifications = emulator.store.notifications_of(order.order_id)
    first = {id(n): (n.attempts[0].at if n.attempts else n.due_at) for n in notifications}
    notifications.sort(key=lambda n: first[id(n)])
    return TriggerRun(order, chosen, started, notifications, signatures_checked=checked)
