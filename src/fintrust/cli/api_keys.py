"""``fintrust api-keys``: keys for the merchant HTTP API (stored only as SHA-256 hashes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial

import click
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import DBAPIError

from fintrust.adapters.db.engine import make_engine
from fintrust.adapters.db.schema import MAX_ID
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.services.api_keys import create_api_key, list_api_keys, revoke_api_key
from fintrust.settings import Settings

__all__ = ["api_keys"]

_database_url = click.option(
    "--database-url", envvar="FINTRUST_DATABASE_URL", help="Default: from settings."
)


@contextmanager
def _unit_of_work(database_url: str | None) -> Iterator[Callable[[], SqlUnitOfWork]]:
    engine = make_engine(database_url or Settings().database_url)
    try:
        yield partial(SqlUnitOfWork, engine)
    except DBAPIError as exc:
        where = engine.url.render_as_string(hide_password=True)
        raise click.ClickException(
            f"database {where}: {type(exc.orig).__name__}; is it reachable and upgraded "
            "('fintrust db upgrade')?"
        ) from None
    finally:
        engine.dispose()


@click.group("api-keys", short_help="Create, list and revoke merchant API keys.")
def api_keys() -> None:
    """Keys for the merchant API (send one as 'Authorization: Bearer <key>' or 'X-API-Key').
    Only a key's SHA-256 is stored: a key is shown once, when it is created."""


@api_keys.command("create")
@click.argument("name")
@_database_url
def create(name: str, database_url: str | None) -> None:
    """Create a key called NAME and print it (to stdout, alone, once)."""
    with _unit_of_work(database_url) as uow:
        try:
            created = create_api_key(uow, name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="NAME") from None
    click.echo(
        f"API key {created.api_key.id} ({created.api_key.name}) created. It is shown only "
        "now: store it in your secret manager.",
        err=True,
    )
    click.echo(created.secret)


@api_keys.command("list")
@_database_url
def list_(database_url: str | None) -> None:
    """Every key: id, name, created, revoked (never the key itself)."""
    with _unit_of_work(database_url) as uow:
        keys = list_api_keys(uow)
    table = Table(title="API keys")
    for column in ("id", "name", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        revoked = key.revoked_at.isoformat(timespec="seconds") if key.revoked_at else ""
        table.add_row(str(key.id), key.name, key.created_at.isoformat(timespec="seconds"), revoked)
    Console().print(table)


@api_keys.command("revoke")
@click.argument("key_id", metavar="ID", type=click.IntRange(1, MAX_ID))
@_database_url
def revoke(key_id: int, database_url: str | None) -> None:
    """Refuse the key with this ID from now on."""
    with _unit_of_work(database_url) as uow:
        if not revoke_api_key(uow, key_id):
            raise click.ClickException(f"no API key {key_id}, or it was revoked before")
    click.echo(f"API key {key_id} revoked.")
