"""The acceptance runner: play Trustly against any merchant's notification URL and report, per
scenario of the catalogue, whether the merchant answered and booked what a correct one would.

For each scenario the runner starts an in-memory emulator on a virtual clock, signing as the
emulator identity the merchant trusts (``--data-dir`` or ``--private-key``). It takes over an
order (see the hook below), runs the scenario on it and moves the clock on until every
notification, re-delivery, duplicate and branch has happened: hours of back-off take no time.
Then it checks:

1. every notification got a valid reply: a JSON-RPC result for the same uuid and method, signed
   with the merchant's key, within the attempts (each attempt's verdict is quoted otherwise);
2. the reply's status is one the scenario allows (``expect.replies``; e.g. D1's debit must be
   answered OK);
3. a re-delivered notification (``same_reply_on_duplicate``) got the same status again;
4. with a hook, the effect on the merchant's books: the end user's balance change is
   ``expect.balance`` x amount (or ``balance_by_reply[method][status]`` x amount, e.g. kyc
   answered FINISH: 0), the suspense change is ``expect.suspense`` x amount, and the order's
   bank account is (or is not) among the end user's payout accounts (``expect.account``).

Two checks are not in the catalogue: a credit notification signed with another key
(``forged-signature``) and a correctly signed one with its amount changed after signing
(``tampered-notification``) must not get a valid OK reply, nor change the balance.

Acceptance hook (optional, ``--hook-url HOOK``): a merchant in demo mode exposes

``POST {HOOK}/orders`` with JSON
  ``{"kind": "Deposit"|"SelectAccount"|"Withdraw"|"AccountPayout", "amount": "10.00",
  "currency": "EUR", "scenario": "<scenario id>"}``.
  The merchant starts that order the way it normally does (against whichever Trustly it is
  configured for) and answers ``200`` with JSON
  ``{"orderid": "...", "messageid": "...", "enduserid": "...", "amount": "10.00",
  "currency": "EUR"}`` (amount and currency may be null for a SelectAccount). It answers
  ``501`` (optionally with ``{"reason": "..."}``) when it does not do that kind of order: the
  scenario is then SKIPPED with that reason. The runner sends the notifications of that
  ``orderid``/``messageid``/``enduserid`` to the notification URL.
  An AccountPayout's amount must already be off the end user's balance when this returns (the
  merchant reserves what it pays out): the runner reads the books only after the order exists
  and expects the rest of the change (nothing more for payout-ok, the amount back for a failed
  or cancelled payout). A Withdraw's amount is taken when the debit notification comes.

``GET {HOOK}/state?enduserid=...&currency=...``
  answers ``200`` with ``{"balance": "10.00", "accounts": ["<accountid>", ...],
  "suspense": "0.00"}``: the end user's balance at the merchant, the Trustly account ids
  stored as the end user's payout destinations, and the amount parked for manual review (an
  amount credited that is not what the order asked for). Amounts are decimal strings.

Without a hook the orders are synthetic (a random 10-digit orderid, messageid
``acceptance-<n>``, enduserid ``acceptance-user-<n>``) and effects are "not checked (no
--hook-url)". A merchant that rightly refuses notifications for orders it does not know fails
such runs; the failure text says so.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from fintrust.trustly import Verifier, load_public_key
from trustly_emulator._acceptance_checks import (
    UNKNOWN_ORDER_HINT,
    duplicate_check,
    effect_checks,
    reply_checks,
    sent_notification,
)
from trustly_emulator._acceptance_hook import (
    Books,
    Hook,
    HookError,
    HookOrder,
    NotSupportedError,
    synthetic_order,
)
from trustly_emulator._acceptance_probes import PROBES, run_probe
from trustly_emulator._acceptance_report import (
    AcceptanceReport,
    AttemptReport,
    Check,
    ScenarioResult,
    SentNotification,
    Status,
    render_report,
)
from trustly_emulator._clock import ManualClock
from trustly_emulator._config import EmulatorConfig, EmulatorKeys, MerchantConfig
from trustly_emulator._emulator import Emulator
from trustly_emulator._scenarios import Scenario, catalogue
from trustly_emulator._state import OPTIONAL_NOTIFICATIONS

__all__ = [
    "AcceptanceConfig",
    "AcceptanceReport",
    "AttemptReport",
    "Check",
    "ScenarioResult",
    "SentNotification",
    "available_checks",
    "render_report",
    "run_acceptance",
]

MAX_STEPS = 10_000  # clock jumps per scenario: attempts are bounded, so this is never reached
HOOK_KINDS = ("Deposit", "SelectAccount", "Withdraw", "AccountPayout")


@dataclass(frozen=True)
class AcceptanceConfig:
    notification_url: str
    keys: EmulatorKeys  # the emulator identity the merchant trusts
    merchant_public_key_pem: str  # verifies the merchant's replies
    hook_url: str | None = None
    merchant_username: str = "merchant"
    scenario_ids: tuple[str, ...] = ()  # empty: every scenario and built-in check
    currency: str = "EUR"
    amount: Decimal = Decimal("10.00")
    retry_delays: tuple[float, ...] = (5, 15, 60, 300, 900)
    max_attempts: int = 6


def available_checks() -> list[tuple[str, str]]:
    """(id, title) of everything the runner can run, in its order."""
    scenarios = [(s.id, s.title) for s in catalogue() if _kind(s) is not None]
    return scenarios + [(probe_id, title) for probe_id, (title, _) in PROBES.items()]


async def run_acceptance(
    config: AcceptanceConfig,
    *,
    http_client: httpx.AsyncClient | None = None,
    progress: Callable[[str, int, int], None] | None = None,
) -> AcceptanceReport:
    """Run the selected scenarios (all by default) against ``config.notification_url``.

    ``progress(id, done, total)`` is called before each scenario and once at the end. Raises
    ``ValueError`` for an unknown scenario id or an unusable merchant public key.
    """
    known = dict(available_checks())
    unknown = [i for i in config.scenario_ids if i not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s): {', '.join(unknown)}; known: {', '.join(known)}")
    load_public_key(config.merchant_public_key_pem)  # KeyLoadError is a ValueError
    selected = [i for i in known if not config.scenario_ids or i in config.scenario_ids]
    http = http_client or httpx.AsyncClient(timeout=10.0)
    runner = _Runner(config, http)
    results = []
    try:
        for done, item in enumerate(selected):
            if progress is not None:
                progress(item, done, len(selected))
            if item in PROBES:
                results.append(await runner.probe(item))
            else:
                results.append(await runner.scenario(next(s for s in catalogue() if s.id == item)))
        if progress is not None:
            progress("", len(selected), len(selected))
    finally:
        if http_client is None:
            await http.aclose()
    return AcceptanceReport(config.notification_url, config.hook_url, tuple(results))


def _kind(scenario: Scenario) -> str | None:
    """The order kind a scenario runs on (Refund-only scenarios need a deposit: not run)."""
    return next((k for k in scenario.applies_to if k in HOOK_KINDS), None)


class _Runner:
    def __init__(self, config: AcceptanceConfig, http: httpx.AsyncClient) -> None:
        self.config = config
        self.http = http
        self.hook = Hook(http, config.hook_url) if config.hook_url else None
        self.verifier = Verifier.from_pem(config.merchant_public_key_pem)
        self.count = 0

    def emulator(self) -> Emulator:
        merchant = MerchantConfig(
            self.config.merchant_username,
            "",
            self.config.merchant_public_key_pem,
            notifications=frozenset(OPTIONAL_NOTIFICATIONS),
        )
        emulator_config = EmulatorConfig(
            merchants=(merchant,),
            retry_delays=self.config.retry_delays,
            max_attempts=self.config.max_attempts,
            # a new seed each time: notification ids must not repeat between scenarios, or a
            # merchant that deduplicates would rightly take them for re-deliveries
            seed=secrets.randbits(62),
        )
        return Emulator(
            emulator_config,
            clock=ManualClock(start=time.time()),
            keys=self.config.keys,
            http_client=self.http,
        )

    async def order(self, kind: str, scenario_id: str) -> HookOrder:
        self.count += 1
        amount = None if kind == "SelectAccount" else self.config.amount
        if self.hook is None:
            return synthetic_order(self.count, amount, self.config.currency)
        return await self.hook.create_order(
            kind, self.config.amount, self.config.currency, scenario_id
        )

    async def books(self, order: HookOrder) -> Books | None:
        if self.hook is None:
            return None
        return await self.hook.books(order.end_user_id, order.currency or self.config.currency)

    async def scenario(self, scenario: Scenario) -> ScenarioResult:
        kind = _kind(scenario)
        assert kind is not None

        def result(status: Status, **extra: Any) -> ScenarioResult:
            return ScenarioResult(scenario.id, scenario.title, kind, status, **extra)

        try:
            info = await self.order(kind, scenario.id)
        except NotSupportedError as exc:
            return result("SKIPPED", reason=str(exc))
        except HookError as exc:
            return result("FAIL", reason=f"the hook failed: {exc}")
        ids = {"order_id": info.order_id, "end_user_id": info.end_user_id}
        emulator = self.emulator()
        try:
            before = await self.books(info)
            order = emulator.adopt_order(
                merchant=self.config.merchant_username,
                method=kind,
                order_id=info.order_id,
                message_id=info.message_id,
                end_user_id=info.end_user_id,
                notification_url=self.config.notification_url,
                amount=info.amount if kind != "SelectAccount" else None,
                currency=info.currency or self.config.currency,
            )
            emulator.complete_checkout(order, scenario_id=scenario.id)
            await _run_out(emulator)
            after = await self.books(info)
        except HookError as exc:
            return result("FAIL", reason=f"the hook failed: {exc}", **ids)
        finally:
            await emulator.aclose()
        records = emulator.store.notifications_of(order.order_id)
        sent = [sent_notification(record, self.verifier) for record in records]
        checks = reply_checks(scenario, records, sent)
        duplicate = duplicate_check(scenario, sent)
        if duplicate is not None:
            checks.append(duplicate)
        checks += effect_checks(
            scenario,
            kind=kind,
            amount=order.amount,
            currency=order.currency or self.config.currency,
            account_id=order.account_id,
            records=records,
            before=before,
            after=after,
        )
        hint = self.hint(sent)
        return result(
            _status(checks), checks=tuple(checks), notifications=tuple(sent), reason=hint, **ids
        )

    def hint(self, sent: list[SentNotification]) -> str | None:
        """Why nothing got a valid reply, when that is likely."""
        attempts = [a for n in sent for a in n.attempts]
        if not attempts or any(a.reply_status for a in attempts):
            return None
        if all(a.http_status is None for a in attempts):
            return (
                f"Nothing answered at {self.config.notification_url}: is the merchant running, "
                "and is that its notification URL?"
            )
        return UNKNOWN_ORDER_HINT if self.hook is None else None

    async def probe(self, probe_id: str) -> ScenarioResult:
        def result(status: Status, **extra: Any) -> ScenarioResult:
            return ScenarioResult(probe_id, PROBES[probe_id][0], "Deposit", status, **extra)

        try:
            info = await self.order("Deposit", probe_id)
            before = await self.books(info)
            emulator = self.emulator()
            try:
                check, sent = await run_probe(
                    probe_id,
                    emulator=emulator,
                    config=self.config,
                    info=info,
                    http=self.http,
                    verifier=self.verifier,
                    synthetic=self.hook is None,
                )
            finally:
                await emulator.aclose()
            after = await self.books(info)
        except NotSupportedError as exc:
            return result("SKIPPED", reason=str(exc))
        except HookError as exc:
            return result("FAIL", reason=f"the hook failed: {exc}")
        checks = [check]
        if before is not None and after is not None:
            currency = self.config.currency
            expected = f"+0.00 {currency} (nothing credited)"
            actual = f"{after.balance - before.balance:+.2f} {currency}"
            checks.append(
                Check("balance change", expected, actual, after.balance == before.balance)
            )
        return result(
            _status(checks),
            checks=tuple(checks),
            notifications=(sent,),
            order_id=info.order_id,
            end_user_id=info.end_user_id,
        )


async def _run_out(emulator: Emulator) -> None:
    """Jump the virtual clock from one due notification to the next until none is left: every
    delay, re-delivery, duplicate and branch of the scenario, in order and at no cost."""
    await emulator.deliver_due()
    for _ in range(MAX_STEPS):
        due = emulator.dispatcher.next_due()
        if due is None:
            return
        await emulator.advance(max(0.0, due - emulator.clock.now()))


def _status(checks: list[Check]) -> Status:
    return "FAIL" if any(check.ok is False for check in checks) else "PASS"
