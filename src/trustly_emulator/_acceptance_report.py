"""The acceptance runner's report: what was sent, what was checked, and how to show it."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

__all__ = [
    "AcceptanceReport",
    "AttemptReport",
    "Check",
    "ScenarioResult",
    "SentNotification",
    "Status",
    "group_verdicts",
    "render_report",
    "summary_line",
]

Status = Literal["PASS", "FAIL", "SKIPPED"]


@dataclass(frozen=True)
class Check:
    """One thing the merchant should have done. ``ok`` is None when it could not be checked."""

    name: str
    expected: str
    actual: str
    ok: bool | None


@dataclass(frozen=True)
class AttemptReport:
    at: float  # seconds since the epoch (the emulator's virtual clock for scenarios)
    http_status: int | None
    verdict: str  # "ok", or why the attempt does not count as delivered
    reply_status: str | None  # the status of a valid signed reply, if there was one
    response: str = ""  # the start of the merchant's reply body


@dataclass(frozen=True)
class SentNotification:
    method: str
    notification_id: str
    uuid: str
    state: str  # delivered | failed | scheduled | probe
    attempts: tuple[AttemptReport, ...]


@dataclass(frozen=True)
class ScenarioResult:
    id: str
    title: str
    kind: str  # the order kind the scenario ran on
    status: Status
    checks: tuple[Check, ...] = ()
    notifications: tuple[SentNotification, ...] = ()
    reason: str | None = None  # why it was skipped, or what stopped it
    order_id: str | None = None
    end_user_id: str | None = None

    @property
    def failed_checks(self) -> list[Check]:
        return [check for check in self.checks if check.ok is False]


@dataclass(frozen=True)
class AcceptanceReport:
    notification_url: str
    hook_url: str | None
    results: tuple[ScenarioResult, ...]

    @property
    def passed(self) -> list[ScenarioResult]:
        return [r for r in self.results if r.status == "PASS"]

    @property
    def failed(self) -> list[ScenarioResult]:
        return [r for r in self.results if r.status == "FAIL"]

    @property
    def skipped(self) -> list[ScenarioResult]:
        return [r for r in self.results if r.status == "SKIPPED"]

    @property
    def ok(self) -> bool:
        """True when nothing failed (skipped scenarios are allowed)."""
        return not self.failed

    def result(self, scenario_id: str) -> ScenarioResult:
        for candidate in self.results:
            if candidate.id == scenario_id:
                return candidate
        raise KeyError(scenario_id)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready data: every row, check, notification and attempt."""
        return {
            "notification_url": self.notification_url,
            "hook_url": self.hook_url,
            "ok": self.ok,
            "summary": {
                "passed": len(self.passed),
                "failed": len(self.failed),
                "skipped": len(self.skipped),
            },
            "results": [dataclasses.asdict(result) for result in self.results],
        }


_MARK = {"PASS": ("✓", "green"), "FAIL": ("✗", "red"), "SKIPPED": ("-", "yellow")}


def render_report(report: AcceptanceReport, console: Console) -> None:
    """A table with one row per scenario; under a failure, what each reply or effect should
    have been and what it was, with the delivery attempts of the notifications that failed."""
    table = Table(title=f"Acceptance of {report.notification_url}", show_lines=True)
    table.add_column("", no_wrap=True)
    table.add_column("Scenario", no_wrap=True)
    table.add_column("What happened")
    for result in report.results:
        mark, colour = _MARK[result.status]
        table.add_row(
            Text(mark, style=f"bold {colour}"),
            Text(result.id, style=colour),
            _details(result),
        )
    console.print(table)
    if report.hook_url is None:
        console.print(
            "Effects on the merchant's books were not checked: give --hook-url to check them."
        )
    summary = Text()
    summary.append(f"{len(report.passed)} passed", style="green")
    summary.append(", ")
    summary.append(f"{len(report.failed)} failed", style="red" if report.failed else "")
    summary.append(f", {len(report.skipped)} skipped")
    console.print(summary)


def _details(result: ScenarioResult) -> Group | Text:
    title = Text(result.title)
    if result.status == "SKIPPED":
        return Group(title, Text(f"skipped: {result.reason}", style="yellow"))
    lines: list[Text] = [title]
    if result.reason:
        lines.append(Text(result.reason, style="red"))
    for check in result.failed_checks:
        line = Text("✗ ", style="red")
        line.append(f"{check.name}: ", style="bold")
        line.append(f"should be {check.expected}; was {check.actual}")
        lines.append(line)
    unchecked = [check.name for check in result.checks if check.ok is None]
    if unchecked and result.status == "FAIL":
        lines.append(Text(f"not checked: {', '.join(unchecked)}", style="dim"))
    return Group(*lines) if len(lines) > 1 else title


def summary_line(result: ScenarioResult) -> str:
    """One line of plain text per scenario (for logs and progress)."""
    if result.status == "SKIPPED":
        return f"{result.id}: SKIPPED ({result.reason})"
    failed = "; ".join(
        f"{check.name}: should be {check.expected}, was {check.actual}"
        for check in result.failed_checks
    )
    return f"{result.id}: {result.status}" + (f" ({failed})" if failed else "")


def group_verdicts(attempts: Sequence[AttemptReport]) -> str:
    """``invalid reply (HTTP 400): … x6`` rather than the same verdict six times."""
    verdicts = [attempt.verdict for attempt in attempts]
    counted = [(verdict, len(list(run))) for verdict, run in itertools.groupby(verdicts)]
    return "; ".join(f"{verdict} x{count}" if count > 1 else verdict for verdict, count in counted)
