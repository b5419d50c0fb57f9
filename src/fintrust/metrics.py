"""Metrics for Prometheus (prometheus-client).

Two kinds. What a process did (notifications answered, calls sent to Trustly, worker jobs) is
counted in that process: scrape every ``fintrust serve`` at ``/metrics`` and every ``fintrust
worker`` on ``FINTRUST_WORKER_METRICS_PORT``. What waits (calls not sent yet, payouts in flight,
suspense items, frozen wallets) is read from the database when ``/metrics`` is scraped, so every
app process reports the same figures for it. docs/operations.md lists them with alerts to set.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import generate_latest as _generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from fintrust.services.operations import Snapshot

__all__ = [
    "WaitingCollector",
    "exposition",
    "method_label",
    "notification_batch_fallbacks",
    "notification_batch_size",
    "notification_seconds",
    "notifications",
    "reconciliation_differences",
    "reconciliation_finished",
    "trustly_calls",
    "trustly_errors",
    "worker_jobs",
]

# Trustly's notification methods; anything else is counted as "other" (a label per unknown
# method name would let the sender grow the number of series without bound).
_METHODS = frozenset(
    {
        "account",
        "pending",
        "credit",
        "debit",
        "cancel",
        "payoutconfirmation",
        "payoutfailed",
        "kyc",
    }
)

notifications = Counter(
    "fintrust_notifications",
    "Notifications answered, by method and result (accepted, repeated, refused, failed)",
    ["method", "result"],
)
notification_seconds = Histogram(
    "fintrust_notification_seconds",
    "From a notification's body read to its answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
notification_batch_size = Histogram(
    "fintrust_notification_batch_size",
    "Notifications handled in one transaction (group commit)",
    buckets=(1, 2, 4, 8, 16, 32),
)
notification_batch_fallbacks = Counter(
    "fintrust_notification_batch_fallbacks",
    "Batches rolled back and handled again one notification at a time",
)
trustly_calls = Counter(
    "fintrust_trustly_calls",
    "Outbox calls sent to Trustly, by method and outcome (done, unknown, duplicate, failed)",
    ["method", "outcome"],
)
trustly_errors = Counter(
    "fintrust_trustly_errors",
    "Error answers to outbox calls, by method and Trustly's error code (none: no code)",
    ["method", "code"],
)
worker_jobs = Counter(
    "fintrust_worker_jobs",
    "Worker jobs run, by job (outbox, payouts, reconcile) and result (ok, failed)",
    ["job", "result"],
)
reconciliation_differences = Gauge(
    "fintrust_reconciliation_differences",
    "What the last reconciliation found: currencies where our balance at Trustly differs from "
    "Trustly's, and Trustly's movements for orders we do not know",
)
reconciliation_finished = Gauge(
    "fintrust_reconciliation_last_run_timestamp_seconds",
    "When the last reconciliation finished (Unix time)",
)


def method_label(method: str | None) -> str:
    return method if method in _METHODS else "other"


class WaitingCollector(Collector):
    """What waits, read from the database at each scrape (``operations.snapshot``)."""

    def __init__(self, snapshot: Callable[[], Snapshot]) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self._snapshot()
        calls = GaugeMetricFamily(
            "fintrust_outbox_calls_waiting",
            "Calls to Trustly not sent yet, by method and attempt (new; retrying: an earlier "
            "attempt's outcome is unknown and the identical call will be sent again)",
            labels=["method", "attempt"],
        )
        for (method, attempt), count in sorted(now.calls_waiting.items()):
            calls.add_metric([method, attempt], count)
        yield calls
        oldest = now.oldest_call_waiting.total_seconds() if now.oldest_call_waiting else 0.0
        yield GaugeMetricFamily(
            "fintrust_outbox_oldest_call_waiting_seconds",
            "Age of the oldest call to Trustly not sent yet (0: none waits)",
            value=oldest,
        )
        yield GaugeMetricFamily(
            "fintrust_payouts_in_flight",
            "Payouts requested or sent whose outcome Trustly has not told yet",
            value=now.payouts_in_flight,
        )
        yield GaugeMetricFamily(
            "fintrust_suspense_open_items",
            "Suspense items waiting for an operator (`fintrust suspense list`)",
            value=now.open_suspense_items,
        )
        yield GaugeMetricFamily(
            "fintrust_wallets_frozen",
            "Wallets below zero, which pay nothing out (`fintrust wallets frozen`)",
            value=now.frozen_wallets,
        )


def exposition(*registries: CollectorRegistry) -> bytes:
    """The text format of this process's metrics and of ``registries``."""
    return b"".join(_generate_latest(registry) for registry in (REGISTRY, *registries))
