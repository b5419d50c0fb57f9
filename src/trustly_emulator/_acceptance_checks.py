"""What the acceptance runner checks: the merchant's replies to a scenario's notifications, and
the scenario's effect on the merchant's books (read through the acceptance hook)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import Decimal

from fintrust.trustly import (
    VALID_REPLY_STATUSES,
    InvalidNotificationError,
    InvalidSignatureError,
    Verifier,
    read_notification_reply,
)
from trustly_emulator._acceptance_hook import Books
from trustly_emulator._acceptance_report import (
    AttemptReport,
    Check,
    SentNotification,
    group_verdicts,
)
from trustly_emulator._scenarios import Scenario
from trustly_emulator._state import NotificationRecord

__all__ = [
    "NO_HOOK",
    "UNKNOWN_ORDER_HINT",
    "duplicate_check",
    "effect_checks",
    "reply_checks",
    "reply_status",
    "sent_notification",
]

NO_HOOK = "not checked (no --hook-url)"
UNKNOWN_ORDER_HINT = (
    "No notification got a valid reply. Without --hook-url the orders are synthetic: if the "
    "merchant refused an order it does not know, that is right; give --hook-url so that the "
    "scenarios run on orders the merchant created."
)
# Order kinds whose money leaves the end user's balance when the merchant creates the order:
# the runner can only read the books after that, so it expects the rest of the change.
TAKEN_AT_CREATION = {"AccountPayout": Decimal(-1)}


def reply_status(body: str, method: str, uuid: str, verifier: Verifier) -> str | None:
    """The status of a valid signed reply (same uuid and method, merchant's signature)."""
    if not body:
        return None
    try:
        return read_notification_reply(body, method=method, uuid=uuid, verifier=verifier).status
    except (InvalidNotificationError, InvalidSignatureError):
        return None


def sent_notification(record: NotificationRecord, verifier: Verifier) -> SentNotification:
    attempts = tuple(
        AttemptReport(
            at=attempt.at,
            http_status=attempt.status,
            verdict=attempt.verdict,
            reply_status=reply_status(attempt.response, record.method, record.uuid, verifier),
            response=attempt.response[:500],
        )
        for attempt in record.attempts
    )
    return SentNotification(
        method=record.method,
        notification_id=record.notification_id,
        uuid=record.uuid,
        state=record.state,
        attempts=attempts,
    )


def allowed_statuses(scenario: Scenario, method: str) -> list[str]:
    wanted = scenario.expect.replies.get(method)
    return list(wanted) if wanted else sorted(VALID_REPLY_STATUSES.get(method, frozenset({"OK"})))


def reply_checks(
    scenario: Scenario,
    records: Sequence[NotificationRecord],
    sent: Sequence[SentNotification],
) -> list[Check]:
    """(1) every notification got a valid signed reply within the attempts, and (2) its status
    is one the scenario allows."""
    checks = []
    for record, notification in zip(records, sent, strict=True):
        allowed = allowed_statuses(scenario, record.method)
        expected = f"a signed reply (same uuid and method) with status {' or '.join(allowed)}"
        name = f"reply to {record.method} {record.notification_id}"
        attempts = notification.attempts
        if record.state == "delivered":
            status = record.reply_status or ""
            failures = [a for a in attempts if not a.verdict.startswith("ok")]
            actual = status + (
                f", after {len(failures)} failed attempt(s): {group_verdicts(failures)}"
                if failures
                else ""
            )
            checks.append(Check(name, expected, actual, status in allowed))
            continue
        if not attempts:
            actual = f"never sent (the notification is {record.state})"
        else:
            first = next((i for i, a in enumerate(attempts) if a.reply_status), None)
            if first is None:
                actual = f"no valid reply in {len(attempts)} attempts: {group_verdicts(attempts)}"
            else:
                actual = (
                    f"{attempts[first].reply_status} at first, but then "
                    f"{group_verdicts(attempts[first + 1 :])}"
                )
            last = attempts[-1]
            if last.http_status is not None and last.response.strip():
                actual += f"; the last reply was HTTP {last.http_status} {_excerpt(last.response)}"
        checks.append(Check(name, expected, actual, False))
    return checks


def duplicate_check(scenario: Scenario, sent: Sequence[SentNotification]) -> Check | None:
    """(3) the same status for every delivery of one notificationid. Always reported for the
    scenarios that re-deliver on purpose; for the others, only when it went wrong."""
    answered = [n for n in sent if any(a.reply_status for a in n.attempts)]
    repeated = [n for n in answered if len(n.attempts) > 1]
    parts, consistent = [], True
    for notification in repeated:
        first = next(i for i, a in enumerate(notification.attempts) if a.reply_status)
        later = notification.attempts[first:]
        statuses = [a.reply_status or f"no valid reply (HTTP {a.http_status})" for a in later]
        if len(later) > 1:
            parts.append(f"{notification.method}: {_runs(statuses)}")
        consistent = consistent and len(set(statuses)) == 1
    expected = "the same status on every delivery of a notificationid, without a second effect"
    if not scenario.expect.same_reply_on_duplicate:
        return (
            None if consistent else Check("reply on re-delivery", expected, "; ".join(parts), False)
        )
    if not parts:
        return Check("reply on re-delivery", expected, "nothing was re-delivered", None)
    return Check("reply on re-delivery", expected, "; ".join(parts), consistent)


def effect_checks(
    scenario: Scenario,
    *,
    kind: str,
    amount: Decimal | None,
    currency: str,
    account_id: str | None,
    records: Sequence[NotificationRecord],
    before: Books | None,
    after: Books | None,
) -> list[Check]:
    """(4) the change of the end user's balance and suspense, and the stored account."""
    expect = scenario.expect
    wanted = (expect.balance, expect.suspense, expect.account)
    if all(w is None for w in wanted) and not expect.balance_by_reply:
        return []
    if before is None or after is None:
        return [Check("effects on the merchant's books", "checked", NO_HOOK, None)]
    checks = []
    base = amount or Decimal(0)
    factor, why = _balance_factor(scenario, records)
    actual = _change(before.balance, after.balance, currency)
    if factor is None and why:
        checks.append(Check("balance change", why, actual, False))
    elif factor is not None:
        taken = TAKEN_AT_CREATION.get(kind, Decimal(0))
        since = _cents((factor - taken) * base)
        expected = f"{since:+.2f} {currency} ({factor} x {base:.2f}{why}"
        if taken:
            expected += (
                f"; the {kind}'s {base:.2f} is taken when the merchant creates it, so this is "
                "the change after that"
            )
        ok = after.balance - before.balance == since
        checks.append(Check("balance change", expected + ")", actual, ok))
    if expect.suspense is not None:
        expected_suspense = _cents(expect.suspense * base)
        expected = f"{expected_suspense:+.2f} {currency} ({expect.suspense} x {base:.2f} parked)"
        if before.suspense is None or after.suspense is None:
            checks.append(Check("suspense change", expected, "the hook reports no suspense", False))
        else:
            actual = _change(before.suspense, after.suspense, currency)
            ok = after.suspense - before.suspense == expected_suspense
            checks.append(Check("suspense change", expected, actual, ok))
    if expect.account is not None:
        stored = account_id is not None and account_id in after.accounts
        expected = f"account {account_id} {'stored' if expect.account else 'not stored'}"
        actual = f"{'stored' if stored else 'not stored'} (accounts: "
        actual += f"{', '.join(sorted(after.accounts)) or 'none'})"
        checks.append(Check("payout account", expected, actual, stored == expect.account))
    return checks


def _balance_factor(
    scenario: Scenario, records: Sequence[NotificationRecord]
) -> tuple[Decimal | None, str]:
    """The expected balance factor and why: by the reply to a method, else the scenario's."""
    expect = scenario.expect
    for method, by_status in expect.balance_by_reply.items():
        replied = next((r.reply_status for r in records if r.method == method), None)
        if replied in by_status:
            return by_status[replied], f", as {method} was answered {replied}"
        if expect.balance is None:
            answer = f"was answered {replied}" if replied else "got no valid reply"
            return None, f"a change that depends on the reply to {method}, which {answer}"
    return expect.balance, ""


def _runs(items: Sequence[str]) -> str:
    """``OK, no valid reply (HTTP 409) x6``: repeats counted."""
    counted = [(item, len(list(run))) for item, run in itertools.groupby(items)]
    return ", ".join(f"{item} x{count}" if count > 1 else item for item, count in counted)


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return repr(text[:120] + ("…" if len(text) > 120 else ""))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _change(before: Decimal, after: Decimal, currency: str) -> str:
    return f"{_cents(after - before):+.2f} {currency} ({before:.2f} → {after:.2f})"
