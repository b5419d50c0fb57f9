"""``fintrust reconcile``: our books against Trustly's Balance, now."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from fintrust.cli._services import build_services, load_settings

__all__ = ["reconcile"]


@click.command("reconcile", short_help="Compare our books with Trustly's Balance.")
def reconcile() -> None:
    """Compare what we hold at Trustly (the asset:trustly account: posted, less payouts
    reserved) with Trustly's Balance, per currency, and count the orders still open.

    Exit 0 when every currency matches, 1 with the differences otherwise. Open orders explain
    most differences (a deposit credited at Trustly whose notification has not arrived yet).
    """
    from fintrust.services.outbox import reconcile as run  # noqa: PLC0415
    from fintrust.trustly import TrustlyError  # noqa: PLC0415

    services = build_services(load_settings())
    try:
        report = run(services.uow, services.trustly.client)
    except TrustlyError as exc:
        raise click.ClickException(f"Balance failed: {exc}") from None
    finally:
        services.engine.dispose()
        services.trustly.client.close()
    console = Console()
    table = Table(title="Reconciliation with Trustly")
    for column in ("currency", "ours", "Trustly", "difference"):
        table.add_column(column, justify="left" if column == "currency" else "right")
    differences = report.differences
    for currency in sorted(set(report.ours) | set(report.theirs)):
        ours, theirs = report.ours.get(currency), report.theirs.get(currency)
        difference = differences.get(currency)
        table.add_row(
            currency,
            f"{ours.amount}" if ours else "-",
            f"{theirs.amount}" if theirs else "-",
            f"[red]{difference.amount:+}[/]" if difference else "[green]0[/]",
        )
    console.print(table)
    console.print(f"Open orders: {report.open_orders}")
    if report.unknown_movements:
        unknown = Table(title="AccountLedger movements of orders we do not know")
        for column in ("orderid", "messageid", "amount", "type"):
            unknown.add_column(column)
        for order_id, message_id, amount, kind in report.unknown_movements:
            unknown.add_row(order_id, message_id, amount, kind)
        console.print(unknown)
    if differences or report.unknown_movements:
        console.print(
            "[red]Our books differ from Trustly's.[/] Open orders may explain it; otherwise "
            "check AccountLedger and the suspense items."
        )
        raise SystemExit(1)
    console.print("[green]Every currency matches, and every movement is one of our orders.[/]")
