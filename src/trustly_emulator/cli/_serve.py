"""``fintrust emulator serve``."""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from trustly_emulator._clock import ManualClock, SystemClock
from trustly_emulator._config import PUBLIC_KEY_FILE, key_fingerprint
from trustly_emulator._emulator import Emulator
from trustly_emulator.cli._common import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    base_url_option,
    data_dir_option,
    default_base_url,
    stdout,
)
from trustly_emulator.cli._data_dir import load_config, load_or_create_keys

__all__ = ["serve"]


@click.command("serve", short_help="Serve the API, checkout pages, control plane, inspector.")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to listen on.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=DEFAULT_PORT,
    show_default=True,
    help="Port to listen on.",
)
@data_dir_option
@base_url_option
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
    base_url = base_url or default_base_url(host, port)
    keys, created = load_or_create_keys(data_dir)
    config = load_config(data_dir, base_url)
    clock = ManualClock(start=time.time()) if manual_clock else SystemClock()
    from trustly_emulator._app import create_app  # noqa: PLC0415 - only when serving

    app = create_app(Emulator(config, clock=clock, keys=keys))
    out = stdout()
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
    table.add_row("Fingerprint", key_fingerprint(keys.public_pem))
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
    # Looked up on the package when called, so tests can replace it there without binding a port.
    from trustly_emulator import cli  # noqa: PLC0415 - the package imports this module

    cli._run_server(app, host, port, log_level)


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
