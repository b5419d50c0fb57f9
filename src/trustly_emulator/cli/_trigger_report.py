"""The report ``fintrust emulator trigger`` prints: every delivery attempt, then a verdict."""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from trustly_emulator._state import NotificationRecord
from trustly_emulator.cli._trigger_run import TriggerRun

__all__ = ["render_run"]

_STATE_STYLES = {"delivered": "green", "failed": "red", "not-sent": "dim", "held": "yellow"}


def render_run(run: TriggerRun, out: Console) -> None:
    order = run.order
    amount = f"{order.amount} {order.currency}" if order.amount is not None else "no amount"
    out.print(
        Text.assemble(
            ("Scenario ", "bold"),
            (run.scenario.id, "bold cyan"),
            f": {run.scenario.title}\n",
            ("Order ", "bold"),
            f"{order.order_id} ({order.method}, {amount}, enduserid "
            f"{order.end_user_id}, messageid {order.message_id}) for merchant {order.merchant}\n",
            ("NotificationURL ", "bold"),
            order.notification_url,
        )
    )
    out.print(_attempts_table(run))
    failures = run.failures()
    for record in failures:
        if record.attempts:
            last = record.attempts[-1]
            excerpt = last.response.strip()[:400] or "(empty body)"
            status = f"HTTP {last.status}" if last.status is not None else "no HTTP reply"
            out.print(
                f"{record.method} {record.notification_id}: last reply ({status}):",
                style="red",
                markup=False,
            )
            out.print(f"  {excerpt}", markup=False)
    sent = [n for n in run.notifications if n.state != "not-sent"]
    off = len(run.notifications) - len(sent)
    out.print(f"Order state after the scenario: {order.state}", markup=False)
    if order.state == "awaiting approval":
        out.print(
            "The withdrawal now waits for your ApproveWithdrawal or DenyWithdrawal call, which "
            "a trigger cannot make: run it against `fintrust emulator serve` for the rest.",
            style="yellow",
        )
    if off:
        out.print(
            f"{_count(off, 'notification')} not sent: turned off for merchant {order.merchant} "
            "(see `fintrust emulator merchant add --notifications`).",
            style="dim",
        )
    if not run.signatures_checked:
        out.print(
            "Reply signatures were not checked: pass --merchant-public-key PEM (or add the "
            "merchant with its key) to check them as Trustly does.",
            style="yellow",
        )
    if failures:
        out.print(
            f"{len(failures)} of {_count(len(sent), 'notification')} not delivered with a valid "
            "reply.",
            style="bold red",
        )
    elif sent:
        out.print(
            f"{_count(len(sent), 'notification')} sent, each delivered with a valid reply.",
            style="bold green",
        )
    else:
        out.print("No notification was sent.", style="yellow")


def _attempts_table(run: TriggerRun) -> Table:
    """One row per delivery attempt, grouped by notification."""
    table = Table(box=box.SIMPLE_HEAVY, title="Notifications sent", title_justify="left")
    table.add_column("Notification", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("#", justify="right")
    table.add_column("At", justify="right", no_wrap=True)
    table.add_column("HTTP", justify="right")
    table.add_column("Latency", justify="right", no_wrap=True)
    table.add_column("Verdict", overflow="fold")
    table.add_column("Reply", no_wrap=True)
    for record in run.notifications:
        name = Text.assemble((record.method, "bold"), f"\n{record.notification_id}")
        state = Text(record.state, style=_STATE_STYLES.get(record.state, ""))
        if not record.attempts:
            reason = {
                "not-sent": "not sent: turned off for this merchant (merchant add --notifications)",
                "held": "held (HoldNotifications=1)",
            }.get(record.state, "never attempted")
            table.add_row(name, state, "", "", "", "", Text(reason, style="dim"), "")
            table.add_section()
            continue
        for number, attempt in enumerate(record.attempts, start=1):
            table.add_row(
                name if number == 1 else Text(""),
                state if number == 1 else Text(""),
                str(number),
                f"+{attempt.at - run.started:g}s",
                _status_text(attempt.status),
                f"{attempt.latency_ms:.0f} ms",
                _verdict_text(attempt.verdict, run.signatures_checked, record),
                attempt.reply_status or "",
            )
        table.add_section()
    return table


def _status_text(status: int | None) -> Text:
    if status is None:
        return Text("—", style="dim")
    return Text(str(status), style="green" if 200 <= status < 300 else "red")


def _verdict_text(verdict: str, checked: bool, record: NotificationRecord) -> Text:
    if verdict.startswith("ok"):
        if checked:
            return Text("ok", style="green")
        return Text("ok (signature not checked)", style="yellow")
    # The method and uuid are in the row already.
    verdict = verdict.replace(f"{record.method} {record.uuid}: ", "")
    return Text(verdict, style="yellow" if "(fault)" in verdict else "red")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
