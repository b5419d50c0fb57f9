"""``fintrust worker``: send the outbox, poll payouts, reconcile; until Ctrl-C or SIGTERM."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from fintrust.cli._services import build_services, load_settings

__all__ = ["worker"]


@click.command("worker", short_help="Send queued calls to Trustly, poll payouts, reconcile.")
@click.option(
    "--once", is_flag=True, help="Run one round (drain, poll, reconcile) and exit; for cron."
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="info",
    show_default=True,
    help="Log level (FINTRUST_LOG_FORMAT: json, console or auto).",
)
def worker(*, once: bool, log_level: str) -> None:
    """Run the worker: it claims the outbox's due calls to Trustly (Deposit, AccountPayout) and
    sends them, re-sending an ambiguous one identically; asks GetWithdrawals about payouts in
    flight (at most every FINTRUST_PAYOUT_POLL_INTERVAL_SECONDS); and compares our books with
    Trustly's Balance every FINTRUST_RECONCILE_INTERVAL_MINUTES.

    Settings come from FINTRUST_* variables (or .env), as for `fintrust serve`. Several workers
    may run against one PostgreSQL database. With FINTRUST_WORKER_METRICS_PORT set, the worker
    serves its metrics for Prometheus there (on FINTRUST_WORKER_METRICS_HOST, default loopback).

    \b
    Examples:
      fintrust worker
      FINTRUST_DATABASE_URL=postgresql+psycopg://app@db/fintrust fintrust worker
    """
    from fintrust.logs import configure_logging  # noqa: PLC0415
    from fintrust.worker import Worker, run_worker  # noqa: PLC0415 - only when it runs

    settings = load_settings()
    configure_logging(log_level, log_format=settings.log_format)
    services = build_services(settings)
    try:
        if once:
            report = Worker(services).run_once()
            if report.errors:
                raise click.ClickException("; ".join(report.errors))
            return
        if settings.worker_metrics_port is not None:
            _serve_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
        stop = threading.Event()

        def _stop(signum: int, _frame: FrameType | None) -> None:
            stop.set()  # the round in progress finishes; no call is cut off halfway

        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, _stop) for sig in signals}
        try:
            run_worker(services, stop)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        services.engine.dispose()
        services.trustly.client.close()


def _serve_metrics(host: str, port: int) -> None:
    """This process's metrics at http://host:port/ (a daemon thread: it ends with the worker)."""
    from prometheus_client import start_http_server  # noqa: PLC0415

    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        raise click.ClickException(
            f"cannot serve metrics on {host}:{port} (FINTRUST_WORKER_METRICS_PORT): {exc}"
        ) from None
    logging.getLogger("fintrust.worker").info("metrics at http://%s:%d/metrics", host, port)
