"""``fintrust db``: the database schema."""

from __future__ import annotations

import click

from fintrust.adapters.db.engine import make_engine
from fintrust.adapters.db.migrate import upgrade
from fintrust.settings import Settings

__all__ = ["db"]


@click.group(short_help="Create or upgrade the database schema.")
def db() -> None:
    """The database: SQLite by default (FINTRUST_DATABASE_URL=sqlite:///var/fintrust.sqlite3),
    PostgreSQL with FINTRUST_DATABASE_URL=postgresql+psycopg://user@host/dbname."""


@db.command("upgrade")
@click.option("--database-url", envvar="FINTRUST_DATABASE_URL", help="Default: from settings.")
def db_upgrade(database_url: str | None) -> None:
    """Apply every migration not applied yet (safe to run again)."""
    url = database_url or Settings().database_url
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    click.echo(f"Database at {engine.url.render_as_string(hide_password=True)} is up to date.")
