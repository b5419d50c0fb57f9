"""Sending the outbox: each call is rebuilt from its stored Data and UUID, so a re-send is the
identical signed request; its outcome moves the order. Also: polling payouts still in flight
with GetWithdrawals, and reconciling our books with Trustly's Balance."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fintrust import metrics
from fintrust.adapters.db.repositories import OutboxRow
from fintrust.adapters.db.uow import SqlUnitOfWork, as_utc
from fintrust.domain import payouts
from fintrust.domain.ledger import TRUSTLY
from fintrust.domain.money import Money
from fintrust.services.notifications import apply_payout_effects
from fintrust.trustly import (
    DuplicateError,
    TrustlyAPIError,
    TrustlyClient,
    UnknownOutcomeError,
)

__all__ = [
    "Reconciliation",
    "drain_outbox",
    "poll_payouts",
    "reconcile",
    "send_call",
    "send_now",
]

logger = logging.getLogger("fintrust.outbox")

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]
# An unknown outcome is re-sent, identically, with growing pauses; it is never given up: only
# Trustly's answer (or notifications) can settle it.
RETRY_DELAYS = (10, 30, 120, 600, 1800)
LEASE = dt.timedelta(minutes=2)


def send_call(uow: UnitOfWorkFactory, client: TrustlyClient, row: OutboxRow) -> str:
    """Send one outbox call and record what happened. Returns the outcome in a word."""
    call = client.prepare_raw(row.method, row.data, uuid=row.uuid)
    try:
        result = client.send(call)
    except TrustlyAPIError as exc:
        metrics.trustly_errors.labels(row.method, str(exc.code or "none")).inc()
        outcome = _settle_error(uow, row, exc)
    else:
        with uow() as work:
            work.outbox.finish(row.id, "done", result=result)
            if row.order_id is not None:
                _succeeded(work, row, result)
            work.commit()
        outcome = "done"
    metrics.trustly_calls.labels(row.method, outcome).inc()
    return outcome


def _settle_error(uow: UnitOfWorkFactory, row: OutboxRow, error: TrustlyAPIError) -> str:
    if isinstance(error, UnknownOutcomeError):
        _retry_later(uow, row, error)
        return "unknown"
    if isinstance(error, DuplicateError):
        # We never change a call's UUID or MessageID, so this needs a person, not a retry.
        _failed(uow, row, error, needs_review=True)
        return "duplicate"
    _failed(uow, row, error, needs_review=False)
    return "failed"


def send_now(uow: UnitOfWorkFactory, client: TrustlyClient, outbox_id: int) -> str:
    """Send one call at once (the customer waits for a Deposit's URL), claimed first so that
    a worker draining the outbox at the same moment skips it. Returns the outcome in a word;
    "claimed" when it was already sent or another sender holds it."""
    with uow() as work:
        row = work.outbox.claim_pending(outbox_id, LEASE)
        work.commit()
    if row is None:
        return "claimed"
    return send_call(uow, client, row)


def _succeeded(work: SqlUnitOfWork, row: OutboxRow, result: Any) -> None:
    order = work.orders.get(row.order_id or 0, for_update=True)
    if order is None:
        return
    order_id = str(result.get("orderid")) if isinstance(result, dict) else None
    if row.method in ("Deposit", "SelectAccount"):
        if order.state == "created":
            work.orders.update(
                order.id, state="started", trustly_order_id=order_id, checkout_url=result.get("url")
            )
    elif row.method == "AccountPayout":
        state = payouts.PayoutState(order.state)
        if state is payouts.PayoutState.REQUESTED:
            work.orders.update(order.id, state=payouts.PayoutState.SENT.value)
        if order.trustly_order_id is None:
            work.orders.update(order.id, trustly_order_id=order_id)


def _retry_later(uow: UnitOfWorkFactory, row: OutboxRow, error: Exception) -> None:
    with uow() as work:
        delay = RETRY_DELAYS[min(row.attempts, len(RETRY_DELAYS)) - 1]
        work.outbox.retry_later(row.id, work.now + dt.timedelta(seconds=delay), str(error))
        work.commit()
    logger.warning(
        "outcome unknown, re-sending the identical %s in %d s: %s",
        row.method,
        delay,
        error,
        extra=_fields(row, error),
    )


def _fields(row: OutboxRow, error: Exception) -> dict[str, object]:
    """What a log line about an outbox call carries, to find it again (never its data)."""
    return {
        "outbox_id": row.id,
        "order_id": row.order_id,
        "trustly_method": row.method,
        "trustly_uuid": row.uuid,
        "attempts": row.attempts,
        "trustly_error_code": getattr(error, "code", None),
    }


def _failed(
    uow: UnitOfWorkFactory, row: OutboxRow, error: TrustlyAPIError, *, needs_review: bool
) -> None:
    level = logging.ERROR if error.is_configuration_error or needs_review else logging.WARNING
    logger.log(level, "%s refused: %s", row.method, error, extra=_fields(row, error))
    with uow() as work:
        work.outbox.finish(row.id, "failed", error=str(error))
        order = work.orders.get(row.order_id, for_update=True) if row.order_id else None
        if order is not None and needs_review:
            work.orders.update(order.id, error=f"needs review: {error}")
        elif order is not None and row.method in ("Deposit", "SelectAccount"):
            work.orders.update(order.id, state="failed", error=str(error))
        elif order is not None and row.method == "AccountPayout":
            payout = _payout(order)
            payout, effects = payouts.on_rejected(payout, str(error))
            apply_payout_effects(work, order, effects, reference=f"outbox:{row.id}:rejected")
            work.orders.update(order.id, state=payout.state.value, error=str(error))
        work.commit()


def _payout(order: Any) -> payouts.PayoutOrder:
    return payouts.PayoutOrder(
        order.id,
        order.customer_id,
        order.message_id,
        Money(order.currency, order.amount),
        payouts.PayoutState(order.state),
    )


def drain_outbox(
    uow: UnitOfWorkFactory, client: TrustlyClient, *, limit: int = 20
) -> dict[str, int]:
    """Claim the due calls and send them; returns how many ended how."""
    with uow() as work:
        rows = work.outbox.claim_due(limit, LEASE)
        work.commit()
    counts: dict[str, int] = {}
    for row in rows:
        outcome = send_call(uow, client, row)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def poll_payouts(
    uow: UnitOfWorkFactory,
    client: TrustlyClient,
    *,
    interval: dt.timedelta,
    confirmations_enabled: bool,
) -> int:
    """Ask GetWithdrawals about payouts still in flight (never more often than ``interval``).
    Without payoutconfirmation notifications, an executed payout is posted from here."""
    with uow() as work:
        due = [
            order
            for order in work.orders.in_state("payout", ("sent",))
            if order.trustly_order_id
            and (order.polled_at is None or as_utc(order.polled_at) <= work.now - interval)
        ]
    posted = 0
    for order in due:
        try:
            withdrawals = client.call("GetWithdrawals", {"OrderID": order.trustly_order_id})
        except TrustlyAPIError as exc:
            logger.warning(
                "GetWithdrawals for %s failed: %s",
                order.trustly_order_id,
                exc,
                extra={"order_id": order.id, "trustly_error_code": exc.code},
            )
            continue
        states = {str(w.get("transferstate")) for w in withdrawals if isinstance(w, dict)}
        with uow() as work:
            fresh = work.orders.get(order.id, for_update=True)
            if fresh is None:
                continue
            work.orders.update(order.id, polled_at=work.now)
            if not confirmations_enabled and states & {"EXECUTED", "CONFIRMED"}:
                payout, effects = payouts.on_confirmed(_payout(fresh))
                apply_payout_effects(work, fresh, effects, reference=f"poll:{order.id}:executed")
                work.orders.update(order.id, state=payout.state.value)
                posted += bool(effects)
            work.commit()
    return posted


@dataclass
class Reconciliation:
    """Our ``asset:trustly`` against Trustly's Balance, per currency, and orders still open."""

    ours: dict[str, Money] = field(default_factory=dict)
    theirs: dict[str, Money] = field(default_factory=dict)
    open_orders: int = 0
    # AccountLedger movements of orders we have no record of: money moved at Trustly for an
    # order our books cannot explain (orderid, messageid, amount, transaction type).
    unknown_movements: list[tuple[str, str, str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.unknown_movements

    @property
    def differences(self) -> dict[str, Money]:
        currencies = set(self.ours) | set(self.theirs)
        result = {}
        for currency in sorted(currencies):
            ours = self.ours.get(currency, Money.zero(currency))
            theirs = self.theirs.get(currency, Money.zero(currency))
            if ours != theirs:
                result[currency] = theirs - ours
        return result


def reconcile(
    uow: UnitOfWorkFactory, client: TrustlyClient, *, ledger_days: int = 2
) -> Reconciliation:
    """Trustly's balance should equal what we hold there: posted, less payouts reserved (their
    money left Trustly's balance when the payout was accepted). And every movement in Trustly's
    AccountLedger of the last ``ledger_days`` days must belong to an order we know."""
    report = Reconciliation()
    for entry in client.call("Balance", {}):
        currency = str(entry["currency"])
        report.theirs[currency] = Money.of(str(entry["balance"]), currency)
    today = dt.datetime.now(dt.UTC).date()
    movements = client.call(
        "AccountLedger",
        {
            "FromDate": (today - dt.timedelta(days=ledger_days)).isoformat(),
            "ToDate": (today + dt.timedelta(days=1)).isoformat(),  # exclusive
            "Currency": None,
        },
    )
    with uow() as work:
        for movement in movements:
            order_id, message_id = movement.get("orderid"), movement.get("messageid")
            if not order_id or not message_id:
                continue  # fees, settlements to the merchant's bank: not an order's movement
            known = work.orders.find(trustly_order_id=str(order_id), message_id=str(message_id))
            if known is None:
                report.unknown_movements.append(
                    (
                        str(order_id),
                        str(message_id),
                        f"{movement.get('amount')} {movement.get('currency')}",
                        str(movement.get("transactiontype")),
                    )
                )
        for account in work.ledger.accounts():
            if account.code == TRUSTLY:
                held = account.debits_posted - account.credits_posted - account.credits_pending
                report.ours[account.currency] = Money(account.currency, held)
        report.open_orders = len(work.orders.in_state("payout", ("requested", "sent"))) + len(
            work.orders.in_state("deposit", ("created", "started", "pending"))
        )
    if report.differences:
        logger.error("reconciliation: our books differ from Trustly's: %s", report.differences)
    if report.unknown_movements:
        logger.error(
            "reconciliation: Trustly moved money for orders we do not know: %s",
            report.unknown_movements,
        )
    return report
