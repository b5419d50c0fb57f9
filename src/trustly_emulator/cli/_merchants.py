"""``fintrust emulator merchant add|list|remove``: the merchant accounts in ``emulator.json``."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from trustly_emulator._config import MerchantConfig, key_fingerprint
from trustly_emulator.cli._common import (
    CURRENCY,
    OPTIONAL_NOTIFICATIONS,
    data_dir_option,
    note,
    read_public_key,
    stderr,
    stdout,
)
from trustly_emulator.cli._data_dir import (
    config_path,
    merchant_entries,
    read_config,
    write_config,
)

__all__ = ["merchant", "password_source"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@click.group("merchant", short_help="Add, list and remove merchant accounts.")
def merchant() -> None:
    """The merchant accounts the emulator knows (kept in DATA_DIR/emulator.json)."""


@merchant.command("add")
@click.argument("username")
@click.option(
    "--public-key",
    "public_key_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="PEM_FILE",
    help="The merchant's public key (PEM): the emulator verifies requests and notification "
    "replies with it. `fintrust keys generate` writes one. Needed for a new merchant.",
)
@click.option(
    "--password-env",
    metavar="VAR",
    help="Read the API password from this environment variable when the emulator starts "
    "(recommended: the password is never written to disk).",
)
@click.option(
    "--password",
    metavar="TEXT",
    help="The API password, kept in plain text in emulator.json (prefer --password-env).",
)
@click.option(
    "--notifications",
    metavar="LIST",
    help="Optional notifications to turn on, comma-separated: account, payoutconfirmation, "
    "payoutfailed (off by default, as at Trustly). '' turns them all off.",
)
@click.option(
    "--balance",
    "balances",
    multiple=True,
    metavar="CUR=AMOUNT",
    help="Starting balance at 'Trustly' in one currency; repeat for more, e.g. --balance "
    "EUR=1000.00 --balance SEK=5000.",
)
@data_dir_option
def merchant_add(
    *,
    username: str,
    public_key_file: Path | None,
    password_env: str | None,
    password: str | None,
    notifications: str | None,
    balances: tuple[str, ...],
    data_dir: Path,
) -> None:
    """Add the merchant USERNAME, or update it (options not given keep their value).

    The password is never printed. Restart `fintrust emulator serve` to pick up changes (or add
    merchants to a running emulator with POST /_emulator/merchants).

    \b
    Examples:
      fintrust emulator merchant add acme --public-key merchant_public.pem \\
        --password-env ACME_TRUSTLY_PASSWORD --notifications account --balance EUR=1000.00
      fintrust emulator merchant add acme --public-key new_public.pem   # rotate the key
    """
    _check_merchant_options(username, password_env, password)
    public_pem = read_public_key(public_key_file, "--public-key") if public_key_file else None
    chosen = _parse_notifications(notifications)
    starting = _parse_balances(balances)

    raw = read_config(data_dir)
    entries = merchant_entries(raw)
    existing = next((e for e in entries if e.get("username") == username), None)
    if existing is None and public_pem is None:
        raise click.UsageError(
            "a new merchant needs its public key: give --public-key PEM_FILE (e.g. "
            "merchant_public.pem from `fintrust keys generate`)"
        )
    if existing is None and password_env is None and password is None:
        raise click.UsageError(
            "a new merchant needs a password: give --password-env VAR (the emulator reads the "
            "password from $VAR when it starts) or --password TEXT"
        )
    entry: dict[str, Any] = dict(existing or {"username": username})
    if public_pem is not None:
        entry["public_key_pem"] = public_pem
        entry.pop("public_key_file", None)
    if password_env is not None:
        entry["password_env"] = password_env
        entry.pop("password", None)
    elif password is not None:
        entry["password"] = password
        entry.pop("password_env", None)
    entry["notifications"] = chosen if chosen is not None else entry.get("notifications", [])
    if starting:
        entry["balances"] = {**entry.get("balances", {}), **starting}
    # Checked as the emulator will load it, but with a blank password: its variable need not
    # be set yet when the merchant is added.
    try:
        MerchantConfig.from_json({**entry, "password": ""}, data_dir)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"merchant {username!r} is not valid: {exc}") from None
    if existing is None:
        entries.append(entry)
    else:
        entries[entries.index(existing)] = entry
    raw["merchants"] = entries
    path = write_config(data_dir, raw)
    if password is not None:
        stderr().print(
            f"Warning: the password is stored in plain text in {path} (file mode 0600). Prefer "
            "--password-env VAR, and never reuse a real Trustly password here.",
            style="yellow",
            markup=False,
        )
    _report_merchant(entry, path, updated=existing is not None)


@merchant.command("list")
@data_dir_option
def merchant_list(data_dir: Path) -> None:
    """List the merchants in DATA_DIR/emulator.json (passwords are never shown).

    \b
    Example:
      fintrust emulator merchant list --data-dir .emulator
    """
    entries = merchant_entries(read_config(data_dir))
    out = stdout()
    if not entries:
        out.print(
            f"No merchants in {config_path(data_dir)} yet. Add one with: fintrust emulator "
            "merchant add USERNAME --public-key merchant_public.pem --password-env VAR",
            markup=False,
        )
        return
    table = Table(title=f"Merchants in {config_path(data_dir)}", box=box.SIMPLE_HEAVY)
    table.add_column("Username", style="bold", no_wrap=True)
    table.add_column("Password", no_wrap=True)
    table.add_column("Public key", no_wrap=True)
    table.add_column("Notifications")
    table.add_column("Balances", justify="right")
    for entry in entries:
        if entry.get("password_env"):
            variable = entry["password_env"]
            source = f"${variable} ({'set' if variable in os.environ else 'not set'})"
        else:
            source = "in emulator.json" if entry.get("password") is not None else "none"
        key = _entry_fingerprint(entry, data_dir)
        table.add_row(
            Text(str(entry.get("username", "?"))),
            Text(source),
            Text(key[:23]) if key else Text("none: requests get 639", "red"),
            Text(", ".join(entry.get("notifications", [])) or "none optional"),
            Text(
                "\n".join(f"{c} {a}" for c, a in sorted(entry.get("balances", {}).items())) or "0"
            ),
        )
    out.print(table)


@merchant.command("remove")
@click.argument("username")
@data_dir_option
def merchant_remove(username: str, data_dir: Path) -> None:
    """Remove the merchant USERNAME from DATA_DIR/emulator.json.

    \b
    Example:
      fintrust emulator merchant remove acme
    """
    raw = read_config(data_dir)
    entries = merchant_entries(raw)
    kept = [e for e in entries if e.get("username") != username]
    if len(kept) == len(entries):
        raise click.ClickException(f"no merchant {username!r} in {config_path(data_dir)}")
    raw["merchants"] = kept
    path = write_config(data_dir, raw)
    stdout().print(f"Removed merchant {username} from {path}.", markup=False)


def _check_merchant_options(username: str, password_env: str | None, password: str | None) -> None:
    if not username.strip() or username != username.strip():
        raise click.BadParameter("a username without surrounding spaces", param_hint="USERNAME")
    if password_env is not None and password is not None:
        raise click.UsageError("give either --password-env or --password, not both")
    if password_env is not None and not _ENV_NAME.match(password_env):
        raise click.BadParameter(
            f"{password_env!r} is not an environment variable name (letters, digits, _)",
            param_hint="--password-env",
        )


def _parse_notifications(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [part.strip().lower() for part in value.split(",") if part.strip()]
    unknown = sorted(set(names) - set(OPTIONAL_NOTIFICATIONS))
    if unknown:
        raise click.BadParameter(
            f"unknown notification {', '.join(unknown)}; choose from "
            f"{', '.join(OPTIONAL_NOTIFICATIONS)} (comma-separated; '' turns them all off)",
            param_hint="--notifications",
        )
    return sorted(set(names))


def _parse_balances(values: Iterable[str]) -> dict[str, str]:
    balances: dict[str, str] = {}
    for value in values:
        currency, sep, amount = value.partition("=")
        currency = currency.strip().upper()
        if not sep or not CURRENCY.match(currency):
            raise click.BadParameter(
                f"{value!r}: expected CURRENCY=AMOUNT, e.g. EUR=1000.00", param_hint="--balance"
            )
        try:
            parsed = Decimal(amount.strip())
        except InvalidOperation:
            raise click.BadParameter(
                f"{value!r}: {amount!r} is not an amount, e.g. EUR=1000.00", param_hint="--balance"
            ) from None
        if not parsed.is_finite():
            raise click.BadParameter(f"{value!r}: not a finite amount", param_hint="--balance")
        balances[currency] = f"{parsed:.2f}"
    return balances


def _report_merchant(entry: Mapping[str, Any], path: Path, *, updated: bool) -> None:
    """What was written, without the password."""
    out = stdout()
    out.print(
        f"{'Updated' if updated else 'Added'} merchant {entry['username']} in {path}.", markup=False
    )
    out.print(f"  password       {password_source(entry)}", markup=False)
    out.print(f"  public key     {_entry_fingerprint(entry, path.parent) or 'none'}", markup=False)
    chosen = ", ".join(entry["notifications"]) or "none of the optional ones"
    out.print(f"  notifications  {chosen}", markup=False)
    if entry.get("balances"):
        shown = ", ".join(f"{c} {a}" for c, a in sorted(entry["balances"].items()))
        out.print(f"  balances       {shown}", markup=False)
    variable = entry.get("password_env")
    if variable and variable not in os.environ:
        note(f"Set ${variable} before `fintrust emulator serve`.")


def password_source(entry: Mapping[str, Any]) -> str:
    """Where a merchant's password comes from, never the password itself."""
    if entry.get("password_env"):
        return f"the value of ${entry['password_env']} (not shown)"
    if entry.get("password") is not None:
        return "the one stored in emulator.json (not shown)"
    return "none set"


def _entry_fingerprint(entry: Mapping[str, Any], data_dir: Path) -> str | None:
    """The fingerprint of the merchant's public key; None when it has none or it is unusable.

    Not ``MerchantConfig.from_json``: a listing must show every entry, even a broken one.
    """
    pem = entry.get("public_key_pem")
    if pem is None and entry.get("public_key_file"):
        try:
            pem = (data_dir / entry["public_key_file"]).read_text(encoding="ascii")
        except OSError:
            return None
    if not pem:
        return None
    try:
        return key_fingerprint(pem)
    except ValueError:
        return None
