"""``fintrust emulator print-config`` and ``scenarios``: what a merchant needs to know."""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table
from rich.text import Text

from trustly_emulator._config import PUBLIC_KEY_FILE, key_fingerprint
from trustly_emulator._scenarios import Scenario, catalogue
from trustly_emulator.cli._common import (
    base_url_option,
    data_dir_option,
    default_base_url,
    note,
    scenario_kinds,
    stdout,
)
from trustly_emulator.cli._data_dir import (
    load_or_create_keys,
    merchant_entries,
    pick_merchant,
    read_config,
)
from trustly_emulator.cli._merchants import password_source

__all__ = ["print_config", "scenarios"]

ENV_PREFIX = "FINTRUST_TRUSTLY_"


@click.command("print-config", short_help="Print the API URL, public key and username.")
@data_dir_option
@base_url_option
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
    base_url = base_url or default_base_url()
    keys, created = load_or_create_keys(data_dir)
    if created:
        note(f"Created the emulator's key pair in {data_dir} (it is kept for `serve`).")
    entries = merchant_entries(read_config(data_dir))
    index = pick_merchant([str(e.get("username")) for e in entries], merchant_name, data_dir)
    entry = None if index is None else entries[index]
    username: str | None = entry.get("username") if entry else None
    config = {
        "api_url": f"{base_url.rstrip('/')}/api/1",
        "public_key_file": str((data_dir / PUBLIC_KEY_FILE).resolve()),
        "public_key_pem": keys.public_pem,
        "public_key_fingerprint": key_fingerprint(keys.public_pem),
        "username": username,
        "password_env": entry.get("password_env") if entry else None,
        "inspector_url": f"{base_url.rstrip('/')}/_emulator/",
    }
    if output_format == "json":
        click.echo(json.dumps(config, indent=2))
    elif output_format == "env":
        lines = {"API_URL": config["api_url"], "PUBLIC_KEY_FILE": config["public_key_file"]}
        if username is not None:
            lines["USERNAME"] = username
        for name, value in lines.items():
            click.echo(f"{ENV_PREFIX}{name}={shlex.quote(str(value))}")
        _password_note(entry, username)
    else:
        out = stdout()
        table = Table(box=None, show_header=False, padding=(0, 2, 0, 0))
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        table.add_row("API URL", config["api_url"])
        table.add_row("Public key file", config["public_key_file"])
        table.add_row("Fingerprint", config["public_key_fingerprint"])
        table.add_row("Username", username or Text(_no_username(entries), style="yellow"))
        if entry is not None:
            table.add_row("Password", password_source(entry))
        table.add_row("Inspector", config["inspector_url"])
        out.print(Text("Point your Trustly integration at the emulator:", style="bold"))
        out.print(table)
        out.print(
            "\nThe emulator's public key: verify responses and notifications with it in place "
            "of Trustly's key:\n",
            markup=False,
        )
        click.echo(keys.public_pem, nl=not keys.public_pem.endswith("\n"))


def _no_username(entries: list[dict[str, Any]]) -> str:
    if entries:
        return "several merchants: choose one with --merchant NAME"
    return "no merchant yet: add one with `fintrust emulator merchant add`"


def _password_note(entry: Mapping[str, Any] | None, username: str | None) -> None:
    """Where the password for a .env file comes from: it is never printed, not even there."""
    if entry is None:
        note(f"No merchant chosen: add {ENV_PREFIX}USERNAME yourself, or pass --merchant NAME.")
        return
    variable = entry.get("password_env")
    if variable:
        note(
            f"The password is not printed: set {ENV_PREFIX}PASSWORD to the value of ${variable}"
            f" (the emulator checks {username}'s requests against it)."
        )
    else:
        note(
            f"The password is not printed: set {ENV_PREFIX}PASSWORD to the one stored for "
            f"{username} in emulator.json."
        )


@click.command("scenarios", short_help="List the scenario catalogue.")
@click.option(
    "--kind",
    type=click.Choice(scenario_kinds(), case_sensitive=False),
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
    stdout().print(table)


def _origin(entry: Scenario) -> Text:
    if entry.trustly_test_case:
        return Text("Trustly", style="bold magenta")
    return Text("emulator", style="cyan")
