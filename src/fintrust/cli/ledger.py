"""``fintrust ledger``: check the books."""

from __future__ import annotations

import click
from rich.console import Console
from rich.table import Table

from fintrust.adapters.db.engine import make_engine
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import totals_balance
from fintrust.settings import Settings

__all__ = ["ledger"]


@click.group(short_help="Check the double-entry ledger.")
def ledger() -> None:
    """The ledger: accounts per currency, append-only transfers, balances kept per account."""


@ledger.command("verify")
@click.option("--database-url", envvar="FINTRUST_DATABASE_URL", help="Default: from settings.")
def ledger_verify(database_url: str | None) -> None:
    """Recompute every balance from the transfers and compare it with the stored one.

    Exit 0 when everything matches and every currency balances, 1 with a report otherwise.
    """
    engine = make_engine(database_url or Settings().database_url)
    console = Console()
    try:
        with SqlUnitOfWork(engine) as uow:
            mismatches = uow.ledger.verify()
            accounts = uow.ledger.accounts()
    finally:
        engine.dispose()
    balanced = totals_balance(accounts)
    if not mismatches and balanced:
        console.print(
            f"[green]Ledger verified[/]: {len(accounts)} accounts, "
            "every balance matches its transfers."
        )
        return
    if mismatches:
        table = Table(title="Balances that differ from their transfers")
        for column in ("account", "currency", "field", "stored", "recomputed"):
            table.add_column(column)
        for m in mismatches:
            table.add_row(m.code, m.currency, m.field, str(m.stored), str(m.recomputed))
        console.print(table)
    if not balanced:
        console.print("[red]Debits and credits do not balance in at least one currency.[/]")
    raise SystemExit(1)
