"""``fintrust emulator``: serve the Trustly emulator, set up its merchants, print what a merchant
needs to point at it, list its scenarios, fire one at a NotificationURL and run the acceptance
runner against a merchant.

Registered lazily on the root ``fintrust`` group, so nothing here is imported unless it runs.
One module per command family; this one holds the group and the two seams tests replace:
``_run_server`` and ``http_client_factory`` (the commands look both up here when they run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click
import httpx

from trustly_emulator.cli._config_commands import print_config, scenarios
from trustly_emulator.cli._group import EmulatorGroup
from trustly_emulator.cli._merchants import merchant
from trustly_emulator.cli._serve import serve
from trustly_emulator.cli._trigger import trigger

__all__ = ["EmulatorGroup", "emulator", "http_client_factory"]


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


emulator.add_command(serve)
emulator.add_command(merchant)
emulator.add_command(print_config)
emulator.add_command(scenarios)
emulator.add_command(trigger)
emulator.add_lazy_command("acceptance", "trustly_emulator.cli._acceptance:acceptance_command")


def _run_server(app: Any, host: str, port: int, log_level: str) -> None:
    """Run ``app`` until interrupted (a seam, so tests need not bind a port)."""
    import uvicorn  # noqa: PLC0415 - the web server is imported only to serve

    uvicorn.run(app, host=host, port=port, log_level=log_level)


def _http_client(timeout: float) -> httpx.AsyncClient:
    """The client ``trigger`` and ``acceptance`` reach the merchant with; tests replace this
    factory with an in-process one."""
    return httpx.AsyncClient(timeout=timeout)


http_client_factory: Callable[[float], httpx.AsyncClient] = _http_client
