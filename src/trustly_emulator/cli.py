"""``fintrust emulator``: serve the Trustly emulator, set up its merchants, print what a merchant
needs to point at it, list its scenarios and fire one at a NotificationURL.

Registered lazily on the root ``fintrust`` group, so nothing here is imported unless it runs.
"""

from __future__ import annotations

import asyncio
import dataclasses
import difflib
import hashlib
import importlib
import ipaddress
import json
import logging
import os
import re
import secrets
import shlex
import tempfile
import time
import uuid as uuid_module
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, TypeVar

import click
import httpx
from cryptography.hazmat.primitives import serialization
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fintrust.trustly import Verifier, load_public_key
from trustly_emulator._clock import ManualClock, SystemClock
from trustly_emulator._config import (
    CONFIG_FILE,
    PRIVATE_KEY_FILE,
    PUBLIC_KEY_FILE,
    EmulatorConfig,
    EmulatorKeys,
    MerchantConfig,
)
from trustly_emulator._delivery import Dispatcher
from trustly_emulator._emulator import Emulator
from trustly_emulator._scenarios import Scenario, catalogue
from trustly_emulator._state import DeliveryAttempt, NotificationRecord, Order

__all__ = ["emulator"]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100
DEFAULT_DATA_DIR = Path(".emulator")
OPTIONAL_NOTIFICATIONS = ("account", "payoutconfirmation", "payoutfailed")
ENV_PREFIX = "FINTRUST_TRUSTLY_"
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
PIPE_WIDTH = 160
TRIGGER_HORIZON = 90 * 24 * 3600.0  # a trigger runs every wait and back-off up to 90 days
TRIGGER_MERCHANT = "merchant"  # the merchant a trigger runs as when emulator.json has none


# ----------------------------------------------------------------------------------- group


class EmulatorGroup(click.Group):
    """A click group with subcommands imported only when they run (or when help lists them).

    A lazy command may name several ``"package.module:attribute"`` candidates; the first that
    imports is used. One that does not import (yet) is left out of the help, so ``acceptance``
    appears in ``fintrust emulator --help`` as soon as its module is there, and a half-written
    module never breaks the help of the other commands.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, tuple[str, ...]] = {}

    def add_lazy_command(self, name: str, *import_paths: str) -> None:
        for import_path in import_paths:
            module, sep, attribute = import_path.partition(":")
            if not sep or not module or not attribute:
                raise ValueError(f"expected 'package.module:attribute', got {import_path!r}")
        if not import_paths:
            raise ValueError("give at least one 'package.module:attribute'")
        self.lazy_commands[name] = import_paths

    def _load(self, name: str) -> click.Command:
        """The command, or ImportError/AttributeError/TypeError saying why it is not there."""
        error: Exception | None = None
        for import_path in self.lazy_commands[name]:
            module, _, attribute = import_path.partition(":")
            try:
                command = getattr(importlib.import_module(module), attribute)
            except (ImportError, AttributeError) as exc:
                error = error or exc
                continue
            if not isinstance(command, click.Command):
                raise TypeError(f"{import_path} is not a click command")
            return command
        assert error is not None
        raise error

    def _loadable(self, name: str) -> bool:
        try:
            self._load(name)
        except (ImportError, AttributeError, TypeError):
            return False
        return True

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = {name for name in self.lazy_commands if self._loadable(name)}
        return sorted({*super().list_commands(ctx), *lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            try:
                command = self._load(cmd_name)
            except ModuleNotFoundError:
                return None  # not written yet: click says there is no such command
            except (ImportError, AttributeError, TypeError) as exc:
                raise click.ClickException(
                    f"the {cmd_name} command is not available: {exc}"
                ) from None
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=EmulatorGroup, short_help="Run an offline Trustly emulator.")
def emulator() -> None:
    """An offline, stateful, wire-compatible Trustly: point your integration's API URL at it,
    take customers through its bank checkout pages and receive real signed notifications.

    \b
    Quick start:
      fintrust keys generate
      fintrust emulator merchant add acme --public-key merchant_public.pem \\
        --password-env ACME_TRUSTLY_PASSWORD
      export ACME_TRUSTLY_PASSWORD=change-me
      fintrust emulator print-config --format env > .env.emulator
      fintrust emulator serve

    \b
    Then open the inspector at http://127.0.0.1:8100/_emulator/ and, without a browser, fire a
    scenario at your NotificationURL:
      fintrust emulator trigger deposit-ok --notification-url http://127.0.0.1:8000/notify
    """


emulator.add_lazy_command(
    "acceptance",
    "trustly_emulator.acceptance:acceptance_command",
    "trustly_emulator._acceptance_cli:acceptance_command",
)


def _data_dir_option(function: F) -> F:
    decorated: F = click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_DATA_DIR,
        show_default=True,
        envvar="FINTRUST_EMULATOR_DATA_DIR",
        show_envvar=True,
        help=f"The emulator's directory: its key pair and {CONFIG_FILE} (merchants, policy).",
    )(function)
    return decorated


def _base_url_option(function: F) -> F:
    decorated: F = click.option(
        "--base-url",
        metavar="URL",
        envvar="FINTRUST_EMULATOR_BASE_URL",
        show_envvar=True,
        help=f"Where merchants and browsers reach the emulator "
        f"[default: http://{DEFAULT_HOST}:{DEFAULT_PORT}].",
    )(function)
    return decorated


def _stdout() -> Console:
    """Rich output; when it is not a terminal (a pipe, a file, a test), tables get room to
    stay on one line per row instead of rich's default 80 columns."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def _stderr() -> Console:
    return Console(stderr=True, highlight=False)


def _note(text: str) -> None:
    click.echo(text, err=True)


# ----------------------------------------------------------------------- data directory


def _config_path(data_dir: Path) -> Path:
    return data_dir / CONFIG_FILE


def _read_config(data_dir: Path) -> dict[str, Any]:
    """``emulator.json`` as written, or an empty configuration when there is none yet."""
    path = _config_path(data_dir)
    if not path.exists():
        return {}
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{path} is not valid JSON ({exc.msg}, line {exc.lineno}); fix or remove it"
        ) from None
    if not isinstance(raw, dict) or not isinstance(raw.get("merchants", []), list):
        raise click.ClickException(f'{path} must be a JSON object with a "merchants" list')
    return raw


def _write_config(data_dir: Path, raw: Mapping[str, Any]) -> Path:
    """Replace ``emulator.json`` atomically; 0600 when a password is kept in it."""
    path = _config_path(data_dir)
    secret = any(m.get("password") is not None for m in raw.get("merchants", []))
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".emulator-", suffix=".json", dir=data_dir)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(raw, handle, indent=2, ensure_ascii=False)
            handle.write("\n")
        os.chmod(temporary, 0o600 if secret else 0o644)
        os.replace(temporary, path)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write {path}: {exc.strerror or exc}. Check that {data_dir} is writable, "
            "or choose another directory with --data-dir."
        ) from None
    return path


def _merchant_entries(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = raw.get("merchants", [])
    return entries


def _load_config(
    data_dir: Path, base_url: str, *, passwords_required: bool, clear_passwords: bool = False
) -> EmulatorConfig:
    """The emulator's configuration from ``emulator.json``, with clear errors.

    When ``passwords_required`` is False, a merchant whose password comes from an unset
    environment variable gets an empty password instead of an error (``trigger`` never needs
    the API password); ``clear_passwords`` blanks every password.
    """
    raw = _read_config(data_dir)
    path = _config_path(data_dir)
    merchants: list[MerchantConfig] = []
    missing: list[str] = []
    for written in _merchant_entries(raw):
        entry = written
        if not isinstance(entry, dict) or not isinstance(entry.get("username"), str):
            raise click.ClickException(f'{path}: every merchant needs a "username"')
        variable = entry.get("password_env")
        unset = entry.get("password") is None and variable and variable not in os.environ
        if clear_passwords or (unset and not passwords_required):
            entry = {**entry, "password": ""}
        elif unset:
            missing.append(f"{entry['username']} (${variable})")
            continue
        try:
            merchants.append(MerchantConfig.from_json(entry, data_dir))
        except (OSError, ValueError, KeyError) as exc:
            raise click.ClickException(
                f"{path}: merchant {entry['username']!r} is not usable: {exc}. Fix it with "
                f"`fintrust emulator merchant add {entry['username']} ...`."
            ) from None
    if missing:
        raise click.ClickException(
            "the password of "
            + ", ".join(missing)
            + " comes from an environment variable that is not set. Export it (the same value "
            "your integration sends as Password), then run this again."
        )
    policy = {key: value for key, value in raw.items() if key != "merchants"}
    if "retry_delays" in policy:
        policy["retry_delays"] = tuple(policy["retry_delays"])
    policy["base_url"] = base_url
    try:
        return EmulatorConfig(data_dir=data_dir, merchants=tuple(merchants), **policy)
    except TypeError as exc:
        raise click.ClickException(
            f"{path} has a setting the emulator does not know: {exc}"
        ) from None


def _keys_exist(data_dir: Path) -> bool:
    return (data_dir / PRIVATE_KEY_FILE).exists()


def _load_or_create_keys(data_dir: Path) -> tuple[EmulatorKeys, bool]:
    """The emulator's key pair in ``data_dir`` and whether it was created just now."""
    created = not _keys_exist(data_dir)
    try:
        keys = EmulatorKeys.load_or_create(data_dir)
    except OSError as exc:
        raise click.ClickException(
            f"cannot create or read the emulator's key pair in {data_dir}: {exc.strerror or exc}."
            " Choose a writable directory with --data-dir."
        ) from None
    except ValueError as exc:
        raise click.ClickException(
            f"the emulator's key pair in {data_dir} is not readable ({exc}). Remove "
            f"{PRIVATE_KEY_FILE} and {PUBLIC_KEY_FILE} there to get a new pair (merchants must "
            "then be given the new public key)."
        ) from None
    return keys, created


def fingerprint(public_pem: str | bytes) -> str:
    """``sha256:`` and the hex SHA-256 of the key's DER SubjectPublicKeyInfo, the same as
    ``openssl pkey -pubin -outform DER | sha256sum``."""
    der = load_public_key(public_pem).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _default_base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def _api_url(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/1"


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


# ----------------------------------------------------------------------------------- serve


def _run_server(app: Any, host: str, port: int, log_level: str) -> None:
    """Run ``app`` until interrupted (a module-level hook, so tests need not bind a port)."""
    import uvicorn  # noqa: PLC0415 - the web server is imported only to serve

    uvicorn.run(app, host=host, port=port, log_level=log_level)


@emulator.command("serve", short_help="Serve the API, checkout pages, control plane, inspector.")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on.",
)
@_data_dir_option
@_base_url_option
@click.option(
    "--manual-clock",
    is_flag=True,
    help="Time stands still until POST /_emulator/clock/advance: nothing is delivered on its "
    "own, so tests decide when each notification goes out.",
)
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a --host other than loopback. The control plane under /_emulator/ has no "
    "authentication: anyone who reaches it can move money and read every order.",
)
@click.option(
    "--log-level",
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    default="info",
    show_default=True,
    help="uvicorn's log level.",
)
def serve(
    *,
    host: str,
    port: int,
    data_dir: Path,
    base_url: str | None,
    manual_clock: bool,
    allow_remote: bool,
    log_level: str,
) -> None:
    """Serve the emulator: the JSON-RPC API, the bank checkout pages, the control plane and the
    inspector.

    Merchants come from DATA_DIR/emulator.json (see `fintrust emulator merchant add`). The
    emulator's key pair is generated on the first start and kept in DATA_DIR; give its public
    key to your integration in place of Trustly's (`fintrust emulator print-config`).

    \b
    Examples:
      fintrust emulator serve
      fintrust emulator serve --port 9000 --data-dir /tmp/emulator --manual-clock
      fintrust emulator serve --host 0.0.0.0 --allow-remote \\
        --base-url http://emulator.internal:8100
    """
    if not allow_remote and not _is_loopback(host):
        raise click.UsageError(
            f"refusing to listen on {host}: the control plane under /_emulator/ has no "
            "authentication, so anyone who can reach it could move money, read every order "
            "and change the emulator. Use --host 127.0.0.1 (the default), or pass "
            "--allow-remote if every host on that network is trusted."
        )
    base_url = base_url or _default_base_url(host, port)
    keys, created = _load_or_create_keys(data_dir)
    config = _load_config(data_dir, base_url, passwords_required=True)
    clock = ManualClock(start=time.time()) if manual_clock else SystemClock()
    from trustly_emulator._app import create_app  # noqa: PLC0415 - only when serving

    app = create_app(Emulator(config, clock=clock, keys=keys))
    out = _stdout()
    if created:
        out.print(f"Created the emulator's key pair in {data_dir}.", style="yellow")
    base = base_url.rstrip("/")
    table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    table.add_row("API URL", f"{base}/api/1  (also {base}/1)")
    table.add_row("Inspector", f"{base}/_emulator/")
    table.add_row("Control plane", f"{base}/_emulator/docs")
    table.add_row("Public key", f"{data_dir / PUBLIC_KEY_FILE}")
    table.add_row("Fingerprint", fingerprint(keys.public_pem))
    names = ", ".join(m.username for m in config.merchants)
    table.add_row(
        "Merchants",
        names or Text("none yet: add one with `fintrust emulator merchant add`", style="yellow"),
    )
    table.add_row(
        "Clock", "manual (advance it through the control plane)" if manual_clock else "system time"
    )
    out.print(Text("Trustly emulator", style="bold green"))
    out.print(table)
    if not _is_loopback(host):
        out.print(
            f"Listening on {host}, beyond this machine: the control plane has no authentication.",
            style="bold red",
        )
    _run_server(app, host, port, log_level)


# -------------------------------------------------------------------------------- merchant


@emulator.group("merchant", short_help="Add, list and remove merchant accounts.")
def merchant() -> None:
    """The merchant accounts the emulator knows (kept in DATA_DIR/emulator.json)."""


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
        if not sep or not _CURRENCY.match(currency):
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
@_data_dir_option
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
    public_pem = _read_public_key(public_key_file, "--public-key") if public_key_file else None
    chosen = _parse_notifications(notifications)
    starting = _parse_balances(balances)

    raw = _read_config(data_dir)
    entries = _merchant_entries(raw)
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
    try:
        MerchantConfig.from_json({**entry, "password": ""}, data_dir)
    except (ValueError, KeyError) as exc:
        raise click.ClickException(f"merchant {username!r} is not valid: {exc}") from None
    if existing is None:
        entries.append(entry)
    else:
        entries[entries.index(existing)] = entry
    raw["merchants"] = entries
    path = _write_config(data_dir, raw)
    if password is not None:
        _stderr().print(
            f"Warning: the password is stored in plain text in {path} (file mode 0600). Prefer "
            "--password-env VAR, and never reuse a real Trustly password here.",
            style="yellow",
            markup=False,
        )
    _report_merchant(entry, path, updated=existing is not None)


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


def _read_public_key(path: Path, param_hint: str) -> str:
    try:
        public_pem = path.read_text(encoding="ascii")
        load_public_key(public_pem)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise click.BadParameter(
            f"{path} is not a PEM public key ({exc}). Pass the PUBLIC key file, e.g. "
            "merchant_public.pem from `fintrust keys generate`.",
            param_hint=param_hint,
        ) from None
    return public_pem


def _report_merchant(entry: Mapping[str, Any], path: Path, *, updated: bool) -> None:
    """What was written, without the password."""
    out = _stdout()
    out.print(
        f"{'Updated' if updated else 'Added'} merchant {entry['username']} in {path}.", markup=False
    )
    out.print(f"  password       {_password_source(entry)}", markup=False)
    key = _entry_key(entry, path.parent)
    out.print(f"  public key     {fingerprint(key) if key else 'none'}", markup=False)
    chosen = ", ".join(entry["notifications"]) or "none of the optional ones"
    out.print(f"  notifications  {chosen}", markup=False)
    if entry.get("balances"):
        shown = ", ".join(f"{c} {a}" for c, a in sorted(entry["balances"].items()))
        out.print(f"  balances       {shown}", markup=False)
    variable = entry.get("password_env")
    if variable and variable not in os.environ:
        _note(f"Set ${variable} before `fintrust emulator serve`.")


@merchant.command("list")
@_data_dir_option
def merchant_list(data_dir: Path) -> None:
    """List the merchants in DATA_DIR/emulator.json (passwords are never shown).

    \b
    Example:
      fintrust emulator merchant list --data-dir .emulator
    """
    entries = _merchant_entries(_read_config(data_dir))
    out = _stdout()
    if not entries:
        out.print(
            f"No merchants in {_config_path(data_dir)} yet. Add one with: fintrust emulator "
            "merchant add USERNAME --public-key merchant_public.pem --password-env VAR",
            markup=False,
        )
        return
    table = Table(title=f"Merchants in {_config_path(data_dir)}", box=box.SIMPLE_HEAVY)
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
        key = _entry_key(entry, data_dir)
        table.add_row(
            Text(str(entry.get("username", "?"))),
            Text(source),
            Text(fingerprint(key)[:23]) if key else Text("none: requests get 639", "red"),
            Text(", ".join(entry.get("notifications", [])) or "none optional"),
            Text(
                "\n".join(f"{c} {a}" for c, a in sorted(entry.get("balances", {}).items())) or "0"
            ),
        )
    out.print(table)


@merchant.command("remove")
@click.argument("username")
@_data_dir_option
def merchant_remove(username: str, data_dir: Path) -> None:
    """Remove the merchant USERNAME from DATA_DIR/emulator.json.

    \b
    Example:
      fintrust emulator merchant remove acme
    """
    raw = _read_config(data_dir)
    entries = _merchant_entries(raw)
    kept = [e for e in entries if e.get("username") != username]
    if len(kept) == len(entries):
        raise click.ClickException(f"no merchant {username!r} in {_config_path(data_dir)}")
    raw["merchants"] = kept
    path = _write_config(data_dir, raw)
    _stdout().print(f"Removed merchant {username} from {path}.", markup=False)


def _entry_key(entry: Mapping[str, Any], data_dir: Path) -> str | None:
    pem = entry.get("public_key_pem")
    if pem is None and entry.get("public_key_file"):
        try:
            pem = (data_dir / entry["public_key_file"]).read_text(encoding="ascii")
        except OSError:
            return None
    if not pem:
        return None
    try:
        fingerprint(pem)
    except ValueError:
        return None
    return str(pem)


# ---------------------------------------------------------------------------- print-config


def _pick_merchant(
    entries: list[dict[str, Any]], name: str | None, data_dir: Path
) -> dict[str, Any] | None:
    """The merchant named ``name``; else the only one; else None (several, or none)."""
    if name is not None:
        for entry in entries:
            if entry.get("username") == name:
                return entry
        known = ", ".join(str(e.get("username")) for e in entries) or "none"
        raise click.BadParameter(
            f"no merchant {name!r} in {_config_path(data_dir)} (known: {known}); add it with "
            "`fintrust emulator merchant add`",
            param_hint="--merchant",
        )
    return entries[0] if len(entries) == 1 else None


@emulator.command("print-config", short_help="Print the API URL, public key and username.")
@_data_dir_option
@_base_url_option
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "env", "json"]),
    default="text",
    show_default=True,
    help="text for people; env for a .env file or `export $(...)`; json for scripts.",
)
@click.option(
    "--merchant",
    "merchant_name",
    metavar="NAME",
    help="Whose username to print (default: the only merchant, if there is one).",
)
def print_config(
    *, data_dir: Path, base_url: str | None, output_format: str, merchant_name: str | None
) -> None:
    """Print what your integration needs to talk to the emulator instead of Trustly: the API
    URL, the emulator's public key (it signs every response and notification) and your
    username. The password is never printed.

    Creates the emulator's key pair in DATA_DIR when there is none yet, so this works before
    the first `serve`.

    \b
    Examples:
      fintrust emulator print-config
      fintrust emulator print-config --format env > .env.emulator
      export $(fintrust emulator print-config --format env --merchant acme)
      fintrust emulator print-config --format json | jq -r .public_key_pem
    """
    base_url = base_url or _default_base_url(DEFAULT_HOST, DEFAULT_PORT)
    keys, created = _load_or_create_keys(data_dir)
    if created:
        _note(f"Created the emulator's key pair in {data_dir} (it is kept for `serve`).")
    entry = _pick_merchant(_merchant_entries(_read_config(data_dir)), merchant_name, data_dir)
    public_path = (data_dir / PUBLIC_KEY_FILE).resolve()
    username: str | None = entry.get("username") if entry else None
    password_env: str | None = entry.get("password_env") if entry else None
    config = {
        "api_url": _api_url(base_url),
        "public_key_file": str(public_path),
        "public_key_pem": keys.public_pem,
        "public_key_fingerprint": fingerprint(keys.public_pem),
        "username": username,
        "password_env": password_env,
        "inspector_url": f"{base_url.rstrip('/')}/_emulator/",
    }
    if output_format == "json":
        click.echo(json.dumps(config, indent=2))
    elif output_format == "env":
        lines = {
            "API_URL": config["api_url"],
            "PUBLIC_KEY_FILE": config["public_key_file"],
        }
        if username is not None:
            lines["USERNAME"] = username
        for name, value in lines.items():
            click.echo(f"{ENV_PREFIX}{name}={shlex.quote(str(value))}")
        _password_note(entry, username)
    else:
        out = _stdout()
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        table.add_row("API URL", config["api_url"])
        table.add_row("Public key file", config["public_key_file"])
        table.add_row("Fingerprint", config["public_key_fingerprint"])
        table.add_row("Username", username or Text(_no_username(data_dir), style="yellow"))
        if entry is not None:
            table.add_row("Password", _password_source(entry))
        table.add_row("Inspector", config["inspector_url"])
        out.print(Text("Point your Trustly integration at the emulator:", style="bold"))
        out.print(table)
        out.print(
            "\nThe emulator's public key: verify responses and notifications with it in place "
            "of Trustly's key:\n",
            markup=False,
        )
        click.echo(keys.public_pem, nl=not keys.public_pem.endswith("\n"))


def _no_username(data_dir: Path) -> str:
    if _merchant_entries(_read_config(data_dir)):
        return "several merchants: choose one with --merchant NAME"
    return "no merchant yet: add one with `fintrust emulator merchant add`"


def _password_source(entry: Mapping[str, Any]) -> str:
    if entry.get("password_env"):
        return f"the value of ${entry['password_env']} (not shown)"
    if entry.get("password") is not None:
        return "the one stored in emulator.json (not shown)"
    return "none set"


def _password_note(entry: Mapping[str, Any] | None, username: str | None) -> None:
    if entry is None:
        _note(
            "No merchant chosen: add FINTRUST_TRUSTLY_USERNAME yourself, or pass --merchant NAME."
        )
        return
    variable = entry.get("password_env")
    if variable:
        _note(
            f"The password is not printed: set {ENV_PREFIX}PASSWORD to the value of ${variable}"
            f" (the emulator checks {username}'s requests against it)."
        )
    else:
        _note(
            f"The password is not printed: set {ENV_PREFIX}PASSWORD to the one stored for "
            f"{username} in emulator.json."
        )


# ------------------------------------------------------------------------------- scenarios


def _kinds() -> list[str]:
    return sorted({kind for s in catalogue() for kind in s.applies_to})


def _origin(entry: Scenario) -> Text:
    if entry.trustly_test_case:
        return Text("Trustly", style="bold magenta")
    return Text("emulator", style="cyan")


@emulator.command("scenarios", short_help="List the scenario catalogue.")
@click.option(
    "--kind",
    type=click.Choice(_kinds(), case_sensitive=False),
    help="Only scenarios for this kind of order.",
)
def scenarios(kind: str | None) -> None:
    """List the scenario catalogue: the sequences of notifications a checkout can end in.

    "Trustly" marks Trustly's own test cases; the rest are the emulator's. The default
    scenario of a kind (*) is what a checkout runs when none is chosen.

    \b
    Examples:
      fintrust emulator scenarios
      fintrust emulator scenarios --kind AccountPayout
      fintrust emulator trigger D1 --notification-url http://127.0.0.1:8000/notify
    """
    entries = [
        s for s in catalogue() if kind is None or kind.lower() in (k.lower() for k in s.applies_to)
    ]
    table = Table(
        title="Scenarios",
        caption="* the default for its order kinds.  From: Trustly = one of Trustly's own test "
        "cases; emulator = the emulator's own.",
        box=box.SIMPLE_HEAVY,
        title_justify="left",
        caption_justify="left",
    )
    table.add_column("Id", style="bold", no_wrap=True)
    table.add_column("Order kinds", no_wrap=True)
    table.add_column("From", no_wrap=True)
    table.add_column("Title and notifications")
    for entry in entries:
        table.add_row(
            Text(entry.id + (" *" if entry.default else "")),
            Text("\n".join(entry.applies_to)),
            _origin(entry),
            Text.assemble(entry.title, "\n", (entry.summary(), "dim")),
        )
        table.add_section()
    _stdout().print(table)


# --------------------------------------------------------------------------------- trigger


def _http_client(timeout: float) -> httpx.AsyncClient:
    """The client ``trigger`` delivers with; tests replace this factory with an in-process one."""
    return httpx.AsyncClient(timeout=timeout)


http_client_factory: Callable[[float], httpx.AsyncClient] = _http_client


@dataclass(frozen=True)
class Override:
    key: str
    value: str
    method: str | None = None  # None: every notification

    def applies(self, method: str) -> bool:
        return self.method is None or self.method == method


def _parse_overrides(values: Iterable[str]) -> list[Override]:
    overrides = []
    for value in values:
        target, sep, text = value.partition("=")
        method, colon, key = target.rpartition(":")
        if not sep or not key.strip():
            raise click.BadParameter(
                f"{value!r}: expected KEY=VALUE or METHOD:KEY=VALUE, e.g. amount=5.00 or "
                "credit:amount=5.00",
                param_hint="--override",
            )
        overrides.append(Override(key.strip(), text, method.strip().lower() if colon else None))
    return overrides


class _OverridingDispatcher(Dispatcher):
    """Sets ``overrides`` in each notification's data before every attempt (the data is built
    when the event happens, right before the first attempt)."""

    def __init__(
        self, emulator: Emulator, http: httpx.AsyncClient, overrides: list[Override]
    ) -> None:
        super().__init__(emulator, http)
        self.overrides = overrides

    async def attempt(self, record: NotificationRecord) -> DeliveryAttempt:
        for override in self.overrides:
            if override.applies(record.method):
                record.data[override.key] = override.value
        return await super().attempt(record)


class _UncheckedVerifier(Verifier):
    """Accepts any signature: for a trigger without the merchant's public key."""

    __slots__ = ()

    def verify(self, method: str | None, uuid: str | None, data: Any, signature: Any) -> bool:
        return True


class _TriggerEmulator(Emulator):
    def __init__(
        self,
        config: EmulatorConfig,
        *,
        clock: ManualClock,
        keys: EmulatorKeys,
        http_client: httpx.AsyncClient,
        overrides: list[Override],
        check_signatures: bool,
    ) -> None:
        super().__init__(config, clock=clock, keys=keys, http_client=http_client)
        self.dispatcher = _OverridingDispatcher(self, http_client, overrides)
        self._unchecked = None if check_signatures else _UncheckedVerifier.from_pem(keys.public_pem)

    def merchant_verifier(self, username: str) -> Verifier:
        if self._unchecked is not None:
            return self._unchecked
        return super().merchant_verifier(username)


@dataclass
class TriggerRun:
    order: Order
    scenario: Scenario
    started: float
    notifications: list[NotificationRecord] = field(default_factory=list)
    signatures_checked: bool = True

    def delivered(self, record: NotificationRecord) -> bool:
        return record.state == "delivered" or (
            record.state == "scheduled" and any(a.verdict.startswith("ok") for a in record.attempts)
        )

    def failures(self) -> list[NotificationRecord]:
        return [n for n in self.notifications if n.state != "not-sent" and not self.delivered(n)]


def _trigger_merchant(
    config: EmulatorConfig, name: str | None, data_dir: Path
) -> MerchantConfig | None:
    if name is not None:
        for candidate in config.merchants:
            if candidate.username == name:
                return candidate
        known = ", ".join(m.username for m in config.merchants) or "none"
        raise click.BadParameter(
            f"no merchant {name!r} in {_config_path(data_dir)} (known: {known})",
            param_hint="--merchant",
        )
    if len(config.merchants) > 1:
        known = ", ".join(m.username for m in config.merchants)
        raise click.UsageError(
            f"{_config_path(data_dir)} has several merchants ({known}); choose one with --merchant"
        )
    return config.merchants[0] if config.merchants else None


async def _run_trigger(
    *,
    config: EmulatorConfig,
    keys: EmulatorKeys,
    merchant: MerchantConfig,
    chosen: Scenario,
    kind: str,
    notification_url: str,
    amount: Decimal | None,
    currency: str | None,
    end_user_id: str,
    message_id: str,
    order_id: str,
    overrides: list[Override],
) -> TriggerRun:
    checked = merchant.public_key_pem is not None
    clock = ManualClock(start=time.time())
    async with http_client_factory(config.delivery_timeout) as http:
        emulator = _TriggerEmulator(
            config,
            clock=clock,
            keys=keys,
            http_client=http,
            overrides=overrides,
            check_signatures=checked,
        )
        emulator.add_merchant(merchant)
        started = clock.now()
        order = emulator.adopt_order(
            merchant=merchant.username,
            method=kind,
            order_id=order_id,
            message_id=message_id,
            end_user_id=end_user_id,
            notification_url=notification_url,
            amount=amount,
            currency=currency,
        )
        emulator.complete_checkout(order, scenario_id=chosen.id, amount=amount)
        await emulator.advance(TRIGGER_HORIZON)
        await emulator.aclose()
        notifications = emulator.store.notifications_of(order.order_id)
    first = {id(n): (n.attempts[0].at if n.attempts else n.due_at) for n in notifications}
    notifications.sort(key=lambda n: first[id(n)])
    return TriggerRun(order, chosen, started, notifications, signatures_checked=checked)


def _find_scenario(scenario_id: str) -> Scenario:
    for candidate in catalogue():
        if candidate.id == scenario_id:
            return candidate
    ids = [s.id for s in catalogue()]
    close = difflib.get_close_matches(scenario_id, ids, n=3)
    hint = f" Did you mean {' or '.join(close)}?" if close else ""
    raise click.BadParameter(
        f"no scenario {scenario_id!r}.{hint} List them with `fintrust emulator scenarios`.",
        param_hint="SCENARIO",
    )


def _parse_amount(_ctx: click.Context, _param: click.Parameter, value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise click.BadParameter(f"{value!r} is not an amount, e.g. 10.00") from None
    if not amount.is_finite() or amount <= 0:
        raise click.BadParameter(f"{value!r}: the amount must be positive")
    return amount


def _status_text(status: int | None) -> Text:
    if status is None:
        return Text("—", style="dim")
    return Text(str(status), style="green" if 200 <= status < 300 else "red")


def _verdict_text(verdict: str, checked: bool, record: NotificationRecord) -> Text:
    if verdict.startswith("ok"):
        if checked:
            return Text("ok", style="green")
        return Text("ok (signature not checked)", style="yellow")
    # The method and uuid are in the row already.
    verdict = verdict.replace(f"{record.method} {record.uuid}: ", "")
    return Text(verdict, style="yellow" if "(fault)" in verdict else "red")


_STATE_STYLES = {"delivered": "green", "failed": "red", "not-sent": "dim", "held": "yellow"}


def _render_run(run: TriggerRun, out: Console) -> None:
    order = run.order
    amount = f"{order.amount} {order.currency}" if order.amount is not None else "no amount"
    out.print(
        Text.assemble(
            ("Scenario ", "bold"),
            (run.scenario.id, "bold cyan"),
            f": {run.scenario.title}\n",
            ("Order ", "bold"),
            f"{order.order_id} ({order.method}, {amount}, enduserid "
            f"{order.end_user_id}, messageid {order.message_id}) for merchant {order.merchant}\n",
            ("NotificationURL ", "bold"),
            order.notification_url,
        )
    )
    table = Table(box=box.SIMPLE_HEAVY, title="Notifications sent", title_justify="left")
    table.add_column("Notification", no_wrap=True)
    table.add_column("State", no_wrap=True)
    table.add_column("#", justify="right")
    table.add_column("At", justify="right", no_wrap=True)
    table.add_column("HTTP", justify="right")
    table.add_column("Latency", justify="right", no_wrap=True)
    table.add_column("Verdict", overflow="fold")
    table.add_column("Reply", no_wrap=True)
    for record in run.notifications:
        name = Text.assemble((record.method, "bold"), f"\n{record.notification_id}")
        state = Text(record.state, style=_STATE_STYLES.get(record.state, ""))
        if not record.attempts:
            reason = {
                "not-sent": "not sent: turned off for this merchant (merchant add --notifications)",
                "held": "held (HoldNotifications=1)",
            }.get(record.state, "never attempted")
            table.add_row(name, state, "", "", "", "", Text(reason, style="dim"), "")
            table.add_section()
            continue
        for number, attempt in enumerate(record.attempts, start=1):
            table.add_row(
                name if number == 1 else Text(""),
                state if number == 1 else Text(""),
                str(number),
                f"+{attempt.at - run.started:g}s",
                _status_text(attempt.status),
                f"{attempt.latency_ms:.0f} ms",
                _verdict_text(attempt.verdict, run.signatures_checked, record),
                attempt.reply_status or "",
            )
        table.add_section()
    out.print(table)
    for record in run.failures():
        if record.attempts:
            last = record.attempts[-1]
            excerpt = last.response.strip()[:400] or "(empty body)"
            status = f"HTTP {last.status}" if last.status is not None else "no HTTP reply"
            out.print(
                f"{record.method} {record.notification_id}: last reply ({status}):",
                style="red",
                markup=False,
            )
            out.print(f"  {excerpt}", markup=False)
    sent = [n for n in run.notifications if n.state != "not-sent"]
    off = len(run.notifications) - len(sent)
    failures = run.failures()
    out.print(f"Order state after the scenario: {order.state}", markup=False)
    if order.state == "awaiting approval":
        out.print(
            "The withdrawal now waits for your ApproveWithdrawal or DenyWithdrawal call, which "
            "a trigger cannot make: run it against `fintrust emulator serve` for the rest.",
            style="yellow",
        )
    if off:
        out.print(
            f"{_count(off, 'notification')} not sent: turned off for merchant {order.merchant} "
            "(see `fintrust emulator merchant add --notifications`).",
            style="dim",
        )
    if not run.signatures_checked:
        out.print(
            "Reply signatures were not checked: pass --merchant-public-key PEM (or add the "
            "merchant with its key) to check them as Trustly does.",
            style="yellow",
        )
    if failures:
        out.print(
            f"{len(failures)} of {_count(len(sent), 'notification')} not delivered with a valid "
            "reply.",
            style="bold red",
        )
    elif sent:
        out.print(
            f"{_count(len(sent), 'notification')} sent, each delivered with a valid reply.",
            style="bold green",
        )
    else:
        out.print("No notification was sent.", style="yellow")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@emulator.command("trigger", short_help="Fire one scenario at a NotificationURL.")
@click.argument("scenario_id", metavar="SCENARIO")
@click.option(
    "--notification-url",
    required=True,
    metavar="URL",
    help="Your NotificationURL: where the notifications are POSTed.",
)
@_data_dir_option
@click.option(
    "--merchant",
    "merchant_name",
    metavar="NAME",
    help="Which merchant of emulator.json the order is for (default: the only one). Its public "
    "key and its optional notifications apply.",
)
@click.option(
    "--merchant-public-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    metavar="PEM",
    help="Verify the replies' signatures with this key (default: the merchant's key in "
    "emulator.json). Without a key, replies are shown but their signatures not checked.",
)
@click.option(
    "--kind",
    type=click.Choice(_kinds()),
    help="The kind of order [default: the scenario's first kind, e.g. Deposit].",
)
@click.option(
    "--amount",
    default="10.00",
    show_default=True,
    callback=_parse_amount,
    help="The order's amount.",
)
@click.option("--currency", default="EUR", show_default=True, help="The order's currency.")
@click.option(
    "--enduserid",
    "end_user_id",
    default="emulator-trigger",
    show_default=True,
    metavar="ID",
    help="The order's EndUserID.",
)
@click.option(
    "--messageid", "message_id", metavar="ID", help="The order's MessageID [default: a new one]."
)
@click.option(
    "--orderid", "order_id", metavar="ID", help="The order's OrderID [default: a new 10-digit id]."
)
@click.option(
    "--attempts",
    type=click.IntRange(1, 100),
    default=3,
    show_default=True,
    help="Delivery attempts per notification before giving up (Trustly keeps re-delivering "
    "for days; the waits in between are skipped here).",
)
@click.option(
    "--override",
    "override_values",
    multiple=True,
    metavar="KEY=VALUE",
    help="Set KEY to VALUE (a string) in every notification's data, or only in one method's "
    "with METHOD:KEY=VALUE; repeatable. E.g. --override amount=5.00, --override "
    "credit:currency=SEK.",
)
def trigger(
    *,
    scenario_id: str,
    notification_url: str,
    data_dir: Path,
    merchant_name: str | None,
    merchant_public_key: Path | None,
    kind: str | None,
    amount: Decimal,
    currency: str,
    end_user_id: str,
    message_id: str | None,
    order_id: str | None,
    attempts: int,
    override_values: tuple[str, ...],
) -> None:
    """Run SCENARIO end to end against your NotificationURL, without a running emulator.

    Plays one order through the scenario on a fast-forwarded clock: every notification is
    signed with the emulator's key from DATA_DIR (so your integration must trust that key, see
    `print-config`), delivered, and re-delivered like Trustly does until a valid signed reply
    comes or the attempts run out. Prints every attempt; exits 1 when any notification was not
    delivered with a valid reply.

    \b
    Examples:
      fintrust emulator trigger deposit-ok --notification-url http://127.0.0.1:8000/notify
      fintrust emulator trigger D1 --notification-url http://127.0.0.1:8000/notify \\
        --merchant-public-key merchant_public.pem --amount 250.00 --currency SEK
      fintrust emulator trigger deposit-ok --notification-url http://127.0.0.1:8000/notify \\
        --override credit:amount=5.00
    """
    chosen = _find_scenario(scenario_id)
    kind = kind or chosen.applies_to[0]
    if kind not in chosen.applies_to:
        raise click.BadParameter(
            f"{chosen.id} is for {', '.join(chosen.applies_to)} orders, not {kind}",
            param_hint="--kind",
        )
    parts = httpx.URL(notification_url)
    if parts.scheme not in ("http", "https") or not parts.host:
        raise click.BadParameter(
            f"{notification_url!r} is not an http(s) URL", param_hint="--notification-url"
        )
    currency = currency.upper()
    if not _CURRENCY.match(currency):
        raise click.BadParameter(f"{currency!r} is not a currency code", param_hint="--currency")
    overrides = _parse_overrides(override_values)
    if not _keys_exist(data_dir):
        raise click.ClickException(
            f"no emulator key pair in {data_dir}: the notifications must be signed with the key "
            "your integration trusts. Create it with `fintrust emulator print-config --data-dir "
            f"{data_dir}` (or the first `fintrust emulator serve`), or point --data-dir at the "
            "emulator's directory."
        )
    keys, _ = _load_or_create_keys(data_dir)
    config = dataclasses.replace(
        _load_config(
            data_dir, "http://emulator.invalid", passwords_required=False, clear_passwords=True
        ),
        max_attempts=attempts,
        seed=secrets.randbits(64),  # new notification ids on every run, as at Trustly
    )
    configured = _trigger_merchant(config, merchant_name, data_dir)
    public_pem = configured.public_key_pem if configured else None
    if merchant_public_key is not None:
        public_pem = _read_public_key(merchant_public_key, "--merchant-public-key")
    merchant_config = MerchantConfig(
        username=configured.username if configured else TRIGGER_MERCHANT,
        password="",
        public_key_pem=public_pem,
        notifications=configured.notifications if configured else frozenset(OPTIONAL_NOTIFICATIONS),
        balances=dict(configured.balances) if configured else {},
    )
    # The table shows every attempt; keep the delivery log's "gave up" warnings off stderr.
    package_logger = logging.getLogger("trustly_emulator")
    if not package_logger.handlers:
        package_logger.addHandler(logging.NullHandler())
    run = asyncio.run(
        _run_trigger(
            config=config,
            keys=keys,
            merchant=merchant_config,
            chosen=chosen,
            kind=kind,
            notification_url=notification_url,
            amount=None if kind == "SelectAccount" else amount,
            currency=None if kind == "SelectAccount" else currency,
            end_user_id=end_user_id,
            message_id=message_id or f"trigger-{uuid_module.uuid4().hex[:12]}",
            order_id=order_id or str(1_000_000_000 + secrets.randbelow(9_000_000_000)),
            overrides=overrides,
        )
    )
    _render_run(run, _stdout())
    if run.failures():
        click.get_current_context().exit(1)
