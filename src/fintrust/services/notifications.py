"""``handle_notification``: the algorithm in DESIGN.md, for one POST to the notification URL.

Verify before believing; a repeated notificationid gets its first answer again with no second
effect; otherwise dispatch to the order's state machine, book the effects in the ledger, record
the answer and commit, all in one transaction; then reply, signed. Anything that cannot be
handled (bad signature, malformed, oversized, unknown order) changes nothing and gets an error,
so Trustly re-delivers it.
"""

from __future__ import annotations

import json
import logging
import uuid as uuid_module
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy.engine import Row

from fintrust import metrics
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain import deposits, payouts
from fintrust.domain.ledger import (
    SUSPENSE,
    TRUSTLY,
    LedgerTransaction,
    Transfer,
    TransferKind,
    wallet,
)
from fintrust.domain.money import Money
from fintrust.trustly import (
    AccountNotificationData,
    InvalidNotificationError,
    InvalidSignatureError,
    Notification,
    Signer,
    Verifier,
    build_notification_reply,
    parse_notification,
)

__all__ = [
    "Decision",
    "NotificationAnswer",
    "Received",
    "answer",
    "decide",
    "decide_batch",
    "handle_notification",
    "receive",
]

logger = logging.getLogger("fintrust.notifications")


class UnitOfWorkFactory(Protocol):
    def __call__(self, *, write_behind: bool = False) -> SqlUnitOfWork: ...


@dataclass(frozen=True)
class NotificationAnswer:
    status_code: int
    body: bytes
    outcome: str


@dataclass(frozen=True)
class Received:
    """A notification body as it arrived: its text for the audit, and either the verified
    notification or why it is refused. Made without touching the database."""

    text: str
    notification: Notification | None
    refusal: tuple[int, str] | None = None


@dataclass(frozen=True)
class Decision:
    """What to answer: a reply status to sign (HTTP 200), or an error (4xx, nothing changed)."""

    status_code: int
    reply_status: str | None
    outcome: str
    repeated: bool = False
    order_id: int | None = None

    @property
    def result(self) -> str:
        """In a word, for the metrics: accepted, repeated or refused."""
        if self.reply_status is None:
            return "refused"
        return "repeated" if self.repeated else "accepted"


class _RefusedError(Exception):
    """The notification cannot be handled now: nothing is stored, Trustly re-delivers."""


def handle_notification(
    uow: UnitOfWorkFactory,
    body: bytes,
    *,
    verifier: Verifier,
    signer: Signer,
    max_bytes: int = 64 * 1024,
) -> NotificationAnswer:
    """One notification in one transaction, answered (the endpoint batches: decide_batch)."""
    received = receive(body, verifier=verifier, max_bytes=max_bytes)
    return answer(received, decide(uow, received), signer)


def receive(body: bytes, *, verifier: Verifier, max_bytes: int = 64 * 1024) -> Received:
    """Verify before believing: a body too large, badly signed or malformed is refused here."""
    # What is stored for the audit. PostgreSQL text cannot hold NUL, so a body with a NUL byte
    # (never valid JSON) made storing its receipt fail with a 500 on PostgreSQL: replace it as
    # undecodable bytes are replaced.
    text = body[:max_bytes].decode("utf-8", errors="replace").replace("\x00", "\ufffd")
    if len(body) > max_bytes:
        return Received(text, None, (413, f"body larger than {max_bytes} bytes"))
    try:
        return Received(text, parse_notification(body, verifier))
    except InvalidSignatureError as exc:
        return Received(text, None, (400, f"signature: {exc}"))
    except InvalidNotificationError as exc:
        return Received(text, None, (400, f"malformed: {exc}"))


def answer(received: Received, decision: Decision, signer: Signer) -> NotificationAnswer:
    """The HTTP answer: the signed reply, or the error of a refusal."""
    notification = received.notification
    if decision.reply_status is None or notification is None:
        body = json.dumps({"error": decision.outcome}).encode()
        return NotificationAnswer(decision.status_code, body, f"refused: {decision.outcome}")
    reply = build_notification_reply(
        notification.method, notification.uuid, signer, decision.reply_status
    )
    return NotificationAnswer(200, reply, decision.outcome)


def decide(uow: UnitOfWorkFactory, received: Received) -> Decision:
    """Handle one received notification in its own transaction."""
    with uow() as work:
        decision = _decide(work, received)
        work.commit()
    _log(received, decision)
    return decision


def decide_batch(uow: UnitOfWorkFactory, batch: Sequence[Received]) -> list[Decision | Exception]:
    """Handle notifications that arrived together in one transaction: one commit (and one flush
    of the shared balances) for all, which is what lets one app process keep up with Trustly.

    The batch's orders are locked first, all at once and in id order (so two processes cannot
    deadlock on them), and its notifications looked up in the inbox; then each is handled as if
    alone, one after the other, with the writes kept back and sent at commit, a statement per
    table (write-behind). Should the transaction fail (a duplicate stored meanwhile by another
    process, a ledger error), it is rolled back and each notification is handled alone in its
    own transaction: one bad notification costs the others nothing. An item that fails alone
    too gets its exception in its place.
    """
    notifications = [r.notification for r in batch if r.notification is not None]
    metrics.notification_batch_size.observe(len(batch))
    try:
        with uow(write_behind=True) as work:
            with work.pipeline():  # one round trip: BEGIN, the locks, the inbox
                lock = work.orders.lock(
                    trustly_order_ids={n.order_id for n in notifications if n.order_id},
                    message_ids={n.message_id for n in notifications if n.message_id},
                )
                load = work.inbox.load(
                    {n.notification_id for n in notifications if n.notification_id}
                )
            locked = lock()
            load()  # read after the locks were taken: a duplicate handled meanwhile is found
            work.ledger.load_accounts(
                {(code, o.currency) for o in locked for code in (wallet(o.customer_id), TRUSTLY)}
            )
            decisions = [_decide(work, r) for r in batch]
            work.commit()
        for received, decision in zip(batch, decisions, strict=True):
            _log(received, decision)
        return list(decisions)
    except Exception:
        metrics.notification_batch_fallbacks.inc()
        logger.warning(
            "a batch of %d notifications failed; handling each alone", len(batch), exc_info=True
        )
    results: list[Decision | Exception] = []
    for received in batch:
        try:
            results.append(decide(uow, received))
        except Exception as exc:
            logger.exception("notification failed")
            results.append(exc)
    return results


def _decide(work: SqlUnitOfWork, received: Received) -> Decision:
    notification = received.notification
    if notification is None:
        assert received.refusal is not None
        return _refuse(work, received.text, *received.refusal)
    notification_id = notification.notification_id
    if notification_id is None:  # an unknown method without an id: nothing to remember
        return Decision(200, "OK", "unknown method without notificationid")
    try:
        # Everything that may refuse the notification is checked before anything is written:
        # in a batch, a refusal must leave no trace but its receipt.
        amount = _money(notification)
        order = _order_of(work, notification)
    except _RefusedError as exc:
        return _refuse(work, received.text, 400, str(exc))
    if not work.inbox.claim(notification_id, notification.method, received.text):
        first = work.inbox.get(notification_id)
        assert first is not None
        work.inbox.receipt(received.text, "repeated")
        return Decision(
            200,
            first.reply_status,
            f"repeat: {first.outcome}",
            repeated=True,
            order_id=first.order_id,
        )
    status, outcome = _dispatch(work, notification, order, amount)
    order_id = order.id if order is not None else None
    work.inbox.finish(
        notification_id,
        reply_status=status,
        outcome=outcome,
        order_id=order_id,
        trustly_order_id=notification.order_id,
        message_id=notification.message_id,
    )
    # No receipt: the inbox row, with the raw body, is the record of an accepted notification;
    # receipts keep the deliveries it does not hold (repeats, refusals).
    return Decision(200, status, outcome, order_id=order_id)


def _log(received: Received, decision: Decision) -> None:
    """One line per notification answered, once its transaction is committed (a batch rolled
    back and handled again one by one is logged once, as it ended)."""
    notification = received.notification
    fields = {
        "method": notification.method if notification else None,
        "notificationid": notification.notification_id if notification else None,
        "trustly_order_id": notification.order_id if notification else None,
        "order_id": decision.order_id,
        "result": decision.result,
        "reply_status": decision.reply_status,
        "outcome": decision.outcome,
    }
    if decision.reply_status is None:  # Trustly re-delivers it: an operator may need to look
        logger.warning(
            "notification refused", extra={**fields, "http_status": decision.status_code}
        )
    else:
        logger.info("notification handled", extra=fields)


def _refuse(work: SqlUnitOfWork, text: str, status_code: int, reason: str) -> Decision:
    work.inbox.receipt(text, "rejected", reason)  # an audit record only; no business state
    return Decision(status_code, None, reason)


def _order_of(work: SqlUnitOfWork, notification: Notification) -> Any:
    """The order the notification is about, locked; None only for a method we do not know."""
    order = work.orders.find(
        trustly_order_id=notification.order_id,
        message_id=notification.message_id,
        for_update=True,
    )
    if order is None:
        if not notification.is_known_method:
            return None
        raise _RefusedError(
            f"no order {notification.order_id} / {notification.message_id}; "
            "it may not be stored yet: send it again later"
        )
    if order.trustly_order_id not in (None, notification.order_id):
        raise _RefusedError(f"orderid {notification.order_id} is not this order's")
    return order


def _dispatch(
    work: SqlUnitOfWork, notification: Notification, order: Any, amount: Money | None
) -> tuple[str, str]:
    method = notification.method
    if order is None:
        return "OK", f"unknown method {method} for no known order"
    if order.trustly_order_id is None and notification.order_id:
        work.orders.update(order.id, trustly_order_id=notification.order_id)
    if method == "account" and isinstance(notification.data, AccountNotificationData):
        _save_account(work, order, notification.data)
        if order.kind == "select_account":
            work.orders.update(order.id, state="selected")
        return "OK", "account stored as a payout destination"
    if method == "kyc":
        return "CONTINUE", "kyc: continue"  # no KYC policy of our own yet
    if method in ("credit", "debit") and amount is not None and not amount.is_positive:
        # A credit of 0.00 (half of a 0.01 deposit, say) became a zero-amount transfer, which
        # the ledger refuses: LedgerError, a 500 on every re-delivery until Trustly gave up.
        # There is no money to book; the answer and this outcome stay in the inbox.
        logger.warning(
            "%s of %s for order %s: nothing to book",
            method,
            amount,
            order.id,
            extra={"notificationid": notification.notification_id, "order_id": order.id},
        )
        return "OK", f"{method} of {amount}: not a positive amount, nothing booked"
    return _by_kind(work, order, notification, amount)


def _by_kind(
    work: SqlUnitOfWork, order: Row[Any], notification: Notification, amount: Money | None
) -> tuple[str, str]:
    method = notification.method
    if order.kind == "deposit":
        return _deposit(work, order, notification, amount)
    if order.kind == "payout":
        return _payout(work, order, notification, amount)
    if method == "cancel" and order.state in ("created", "started"):  # SelectAccount abandoned
        work.orders.update(order.id, state="cancelled")
        return "OK", "cancel: the account selection ended"
    return "OK", f"{method}: nothing to do for a {order.kind} order"


def _save_account(work: SqlUnitOfWork, order: Row[Any], data: AccountNotificationData) -> None:
    attributes = data.attributes or {}
    work.bank_accounts.save(
        order.customer_id,
        data.account_id,
        bank=attributes.get("bank"),
        clearing_house=attributes.get("clearinghouse"),
        descriptor=attributes.get("descriptor"),
        last_digits=attributes.get("lastdigits"),
        verified=data.is_verified,
        source="notification",
    )


def _money(notification: Notification) -> Money | None:
    amount: Decimal | None = getattr(notification.data, "amount", None)
    currency: str | None = getattr(notification.data, "currency", None)
    if amount is None or currency is None:
        return None
    try:
        return Money.of(amount, currency)
    except ValueError:
        raise _RefusedError(f"amount {amount} {currency} cannot be booked") from None


def _minor(money: Money | None) -> int | None:
    return money.minor if money is not None else None


def _deposit(
    work: SqlUnitOfWork, row: Row[Any], notification: Notification, amount: Money | None
) -> tuple[str, str]:
    currency = row.currency
    order = deposits.DepositOrder(
        id=row.id,
        customer_id=row.customer_id,
        message_id=row.message_id,
        currency=currency,
        amount=Money(currency, row.amount) if row.amount is not None else None,
        state=deposits.DepositState(row.state),
        credited=Money(currency, row.credited) if row.credited else None,
        in_suspense=Money(currency, row.in_suspense) if row.in_suspense else None,
    )
    method = notification.method
    effects: list[deposits.Effect]
    if method == "pending":
        order, effects = deposits.on_pending(order)
    elif method == "credit" and amount is not None:
        order, effects = deposits.on_credit(order, amount)
    elif method == "debit" and amount is not None:
        order, effects = deposits.on_debit(order, amount)
    elif method == "cancel":
        order, effects = deposits.on_cancel(order)
    else:
        return "OK", f"{method}: nothing to do for a deposit"
    transfers, overdraw = _deposit_transfers(work, row, notification, effects)
    if transfers:
        work.ledger.record(
            LedgerTransaction(
                f"notification:{notification.notification_id}",
                f"{method} for deposit {row.message_id}",
                tuple(transfers),
            ),
            enforce_no_overdraft=not overdraw,
        )
    released = any(isinstance(e, deposits.ReleaseSuspense) for e in effects)
    if released and not (order.in_suspense and order.in_suspense.is_positive):
        # Trustly took the parked money back: nothing is left for an operator to decide, and
        # resolving the item later would book money that is gone.
        work.suspense.resolve_open(
            row.id, f"taken back by Trustly's debit {notification.notification_id}"
        )
    work.orders.update(
        row.id,
        state=order.state.value,
        credited=_minor(order.credited),
        in_suspense=_minor(order.in_suspense),
    )
    return "OK", _describe(method, effects)


def _deposit_transfers(
    work: SqlUnitOfWork, row: Row[Any], notification: Notification, effects: list[deposits.Effect]
) -> tuple[list[Transfer], bool]:
    """The transfers for a deposit's effects, and whether they may overdraw the wallet."""
    transfers: list[Transfer] = []
    customer_wallet = wallet(row.customer_id)
    overdraw = False
    for effect in effects:
        match effect:
            case deposits.CreditCustomer(amount=money):
                transfers.append(_transfer(TRUSTLY, customer_wallet, money))
            case deposits.ReverseCredit(amount=money):
                transfers.append(_transfer(customer_wallet, TRUSTLY, money))
                overdraw = True  # taking back what was given may overdraw: then frozen
            case deposits.ParkInSuspense(amount=money, reason=reason):
                if money.is_positive:
                    transfers.append(_transfer(TRUSTLY, SUSPENSE, money))
                else:
                    transfers.append(_transfer(SUSPENSE, TRUSTLY, -money))
                work.suspense.add(
                    order_id=row.id,
                    notification_id=notification.notification_id,
                    amount=money.minor,
                    currency=money.currency,
                    reason=reason,
                )
            case deposits.ReleaseSuspense(amount=money):
                transfers.append(_transfer(SUSPENSE, TRUSTLY, money))
    return transfers, overdraw


def _payout(
    work: SqlUnitOfWork, row: Row[Any], notification: Notification, amount: Money | None
) -> tuple[str, str]:
    order = payouts.PayoutOrder(
        id=row.id,
        customer_id=row.customer_id,
        message_id=row.message_id,
        amount=Money(row.currency, row.amount),
        state=payouts.PayoutState(row.state),
    )
    method = notification.method
    effects: list[payouts.Effect]
    if method == "payoutconfirmation":
        order, effects = payouts.on_confirmed(order)
    elif method == "credit":
        order, effects = payouts.on_credit(order, amount or order.amount)
    elif method == "cancel":
        order, effects = payouts.on_cancel(order)
    elif method == "payoutfailed":
        error = getattr(notification.data, "error_message", None) or "payout failed"
        work.orders.update(row.id, error=error)
        return "OK", f"payoutfailed recorded: {error}"
    else:
        return "OK", f"{method}: nothing to do for a payout"
    apply_payout_effects(
        work,
        row,
        effects,
        reference=f"notification:{notification.notification_id}",
        notification_id=notification.notification_id,
    )
    work.orders.update(row.id, state=order.state.value)
    return "OK", _describe(method, effects)


def apply_payout_effects(
    work: SqlUnitOfWork,
    row: Row[Any],
    effects: list[payouts.Effect],
    *,
    reference: str,
    notification_id: str | None = None,
) -> None:
    """Book a payout's effects: post or void its reservation, or return it with a new transfer."""
    customer_wallet = wallet(row.customer_id)
    amount = Money(row.currency, row.amount)
    transfers = []
    for effect in effects:
        match effect:
            case payouts.PostReservation():
                transfers.append(
                    _settle(customer_wallet, amount, row.pending_transfer_id, TransferKind.POST)
                )
            case payouts.VoidReservation():
                transfers.append(
                    _settle(customer_wallet, amount, row.pending_transfer_id, TransferKind.VOID)
                )
            case payouts.ReturnPayout(amount=money):
                transfers.append(_transfer(TRUSTLY, customer_wallet, money))
            case payouts.ParkInSuspense(amount=money, reason=reason):
                transfers.append(_transfer(TRUSTLY, SUSPENSE, money))
                work.suspense.add(
                    order_id=row.id,
                    notification_id=notification_id,
                    amount=money.minor,
                    currency=money.currency,
                    reason=reason,
                )
    if transfers:
        work.ledger.record(
            LedgerTransaction(reference, f"payout {row.message_id}", tuple(transfers))
        )


def _transfer(debit: str, credit: str, amount: Money) -> Transfer:
    return Transfer(str(uuid_module.uuid4()), debit, credit, amount)


def _settle(customer_wallet: str, amount: Money, pending_id: str, kind: TransferKind) -> Transfer:
    return Transfer(str(uuid_module.uuid4()), customer_wallet, TRUSTLY, amount, kind, pending_id)


def _describe(method: str, effects: list[Any]) -> str:
    if not effects:
        return f"{method}: no money moved"
    return f"{method}: " + "; ".join(type(e).__name__ for e in effects)
