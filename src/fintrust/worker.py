"""The worker: sends the outbox, polls payouts still in flight and reconciles with Trustly.

One loop, one round at a time: drain the due outbox calls, ask GetWithdrawals about payouts
whose outcome is not known yet (no more often than Trustly allows), and every so often compare
our books with Trustly's Balance. Between rounds it waits on ``stop_event`` (no busy loop), so
setting the event stops it within a round. Several workers may run at once: outbox rows are
claimed (``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and every effect is idempotent.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from fintrust import metrics
from fintrust.services import outbox

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["Round", "Worker", "run_worker"]

logger = logging.getLogger("fintrust.worker")

DRAIN_BATCH = 20
MAX_BATCHES_PER_ROUND = 50  # then poll and reconcile before draining on
MAX_BACKOFF = 60.0  # seconds between rounds that keep failing


@dataclass
class Round:
    """What one round did."""

    sent: dict[str, int] = field(default_factory=dict)  # outcome -> calls
    payouts_posted: int = 0
    reconciliation: outbox.Reconciliation | None = None
    errors: list[str] = field(default_factory=list)


class Worker:
    """The jobs of one round, with the state between rounds (when to reconcile next)."""

    def __init__(
        self,
        services: Services,
        *,
        reconcile_every: dt.timedelta | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        settings = services.settings
        self.services = services
        self.clock = clock
        minutes = settings.reconcile_interval_minutes
        self.reconcile_every = reconcile_every or (
            dt.timedelta(minutes=minutes) if minutes > 0 else None
        )
        self.poll_interval = dt.timedelta(seconds=settings.payout_poll_interval_seconds)
        self.confirmations_enabled = settings.payoutconfirmation_enabled
        self._next_reconcile = clock()  # the first round reconciles

    def run_once(self) -> Round:
        """One round; an error in one job is logged and does not stop the others."""
        report = Round()
        client = self.services.trustly.client
        uow = self.services.uow
        try:
            for _ in range(MAX_BATCHES_PER_ROUND):
                counts = outbox.drain_outbox(uow, client, limit=DRAIN_BATCH)
                for outcome, number in counts.items():
                    report.sent[outcome] = report.sent.get(outcome, 0) + number
                if sum(counts.values()) < DRAIN_BATCH:
                    break
        except Exception as exc:  # a broken round must not end the worker
            _failed(report, "outbox", "draining the outbox failed", exc)
        else:
            metrics.worker_jobs.labels("outbox", "ok").inc()
        try:
            report.payouts_posted = outbox.poll_payouts(
                uow,
                client,
                interval=self.poll_interval,
                confirmations_enabled=self.confirmations_enabled,
            )
        except Exception as exc:
            _failed(report, "payouts", "polling payouts failed", exc)
        else:
            metrics.worker_jobs.labels("payouts", "ok").inc()
        if self.reconcile_every is not None and self.clock() >= self._next_reconcile:
            self._next_reconcile = self.clock() + self.reconcile_every.total_seconds()
            try:
                recon = report.reconciliation = outbox.reconcile(uow, client)
            except Exception as exc:
                _failed(report, "reconcile", "reconciliation failed", exc)
            else:
                metrics.worker_jobs.labels("reconcile", "ok").inc()
                metrics.reconciliation_differences.set(
                    len(recon.differences) + len(recon.unknown_movements)
                )
                metrics.reconciliation_finished.set_to_current_time()
        _log(report)
        return report


def _failed(report: Round, job: str, what: str, error: Exception) -> None:
    metrics.worker_jobs.labels(job, "failed").inc()
    logger.exception(what, extra={"job": job})
    report.errors.append(f"{job}: {error}")


def _log(report: Round) -> None:
    if report.sent:
        summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(report.sent.items()))
        logger.info("outbox: %s", summary)
    if report.payouts_posted:
        logger.info("payouts posted from GetWithdrawals: %d", report.payouts_posted)
    recon = report.reconciliation
    if recon is not None and not recon.differences:
        held = ", ".join(str(money) for _, money in sorted(recon.ours.items())) or "nothing"
        logger.info("reconciled with Trustly: %s; %d orders open", held, recon.open_orders)
    # differences are logged as errors by outbox.reconcile itself


def run_worker(
    services: Services,
    stop_event: threading.Event,
    *,
    poll_seconds: float | None = None,
    reconcile_every: dt.timedelta | None = None,
) -> None:
    """Run rounds until ``stop_event`` is set, waiting ``poll_seconds`` (default: the setting
    ``worker_poll_seconds``) between idle rounds; a round that found work is followed at once,
    and failing rounds (the database is down) back off up to a minute."""
    wait = services.settings.worker_poll_seconds if poll_seconds is None else poll_seconds
    worker = Worker(services, reconcile_every=reconcile_every)
    failures = 0
    logger.info("worker started (every %.1f s)", wait)
    while not stop_event.is_set():
        report = worker.run_once()
        failures = failures + 1 if report.errors else 0
        if failures:
            pause = max(wait, min(MAX_BACKOFF, wait * 2 ** min(failures, 16)))
        else:
            pause = 0 if report.sent else wait
        if stop_event.wait(pause):
            break
    logger.info("worker stopped")
