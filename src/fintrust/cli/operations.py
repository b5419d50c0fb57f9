"""``fintrust suspense`` and ``fintrust wallets``: what operators look at and decide."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from fintrust.adapters.db.engine import make_engine
from fintrust.adapters.db.schema import MAX_ID
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.money import Money
from fintrust.services.operations import Resolution, frozen_wallets, resolve_suspense
from fintrust.settings import Settings

__all__ = ["suspense", "wallets"]

_DATABASE = click.option(
    "--database-url", envvar="FINTRUST_DATABASE_URL", help="Default: from settings."
)


@click.group(short_help="Money parked for review: list and resolve.")
def suspense() -> None:
    """Money that did not match its order (another amount or currency, a debit of money never
    credited) is parked in liability:suspense until an operator decides what it is."""


@suspense.command("list")
@_DATABASE
def suspense_list(database_url: str | None) -> None:
    """The open items, oldest first."""
    engine = make_engine(database_url or Settings().database_url)
    try:
        with SqlUnitOfWork(engine, read_only=True) as work:
            items = work.suspense.open_items()
            orders = {i.order_id: work.orders.get(i.order_id) for i in items if i.order_id}
    finally:
        engine.dispose()
    if not items:
        click.echo("No open suspense items.")
        return
    table = Table(title="Open suspense items")
    for column in ("id", "created", "amount", "order", "customer", "notification", "reason"):
        table.add_column(column)
    for item in items:
        order = orders.get(item.order_id)
        table.add_row(
            str(item.id),
            f"{item.created_at:%Y-%m-%d %H:%M}",
            str(Money(item.currency, item.amount)),
            f"{order.id} ({order.kind}, {order.state})" if order else "-",
            str(order.customer_id) if order else "-",
            item.notification_id or "-",
            item.reason,
        )
    Console().print(table)


@suspense.command("resolve")
@click.argument("item_id", type=click.IntRange(1, MAX_ID))
@click.option(
    "--as",
    "resolution",
    required=True,
    type=click.Choice([r.value for r in Resolution]),
    help="to-customer or refunded for money held; recovered or written-off for money lost.",
)
@click.option("--note", required=True, help="Why, for the ledger (a ticket reference).")
@_DATABASE
def suspense_resolve(item_id: int, resolution: str, note: str, database_url: str | None) -> None:
    """Close ITEM_ID with the balanced transfer its resolution means.

    \b
    to-customer   liability:suspense -> the customer's wallet
    refunded      liability:suspense -> asset:trustly (refund it at Trustly first)
    recovered     the customer's wallet -> liability:suspense (may freeze the wallet)
    written-off   expense:write-offs -> liability:suspense
    """
    engine = make_engine(database_url or Settings().database_url)
    try:
        resolve_suspense(lambda: SqlUnitOfWork(engine), item_id, Resolution(resolution), note)
    except (LookupError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        engine.dispose()
    click.echo(f"Suspense item {item_id} resolved ({resolution}).")


@click.group(short_help="Customer wallets: find the frozen ones.")
def wallets() -> None:
    """Customer wallets (liability:wallet:<customer id>, one per currency)."""


@wallets.command("frozen")
@_DATABASE
def wallets_frozen(database_url: str | None) -> None:
    """Wallets below zero: a credited deposit was taken back after it was used. They refuse
    withdrawals until money comes in again (a deposit, or a suspense resolution)."""
    engine = make_engine(database_url or Settings().database_url)
    try:
        frozen = frozen_wallets(lambda: SqlUnitOfWork(engine, read_only=True))
    finally:
        engine.dispose()
    if not frozen:
        click.echo("No frozen wallets.")
        return
    table = Table(title="Frozen wallets")
    for column in ("customer", "currency", "balance", "available"):
        table.add_column(column)
    for entry in frozen:
        table.add_row(
            str(entry.customer_id), entry.currency, str(entry.balance), str(entry.available)
        )
    Console().print(table)
