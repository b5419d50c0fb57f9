"""The ``fintrust`` command line.

``main`` is the root click group. Subcommands are registered by import path and imported only
when they run, so ``fintrust keys generate`` never imports a web server or a database driver.
Exit codes: 0 success, 1 failure (a signature does not verify, unreadable input, a bad key),
2 usage error (click's default).
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from fintrust import __version__

__all__ = ["FintrustGroup", "main"]


class FintrustGroup(click.Group):
    """A click group whose subcommands may also be registered by import path and loaded lazily."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands: dict[str, str] = {}

    def add_lazy_command(self, name: str, import_path: str) -> None:
        """Register ``name`` as the click command at ``"package.module:attribute"``."""
        module, sep, attribute = import_path.partition(":")
        if not sep or not module or not attribute:
            raise ValueError(f"expected 'package.module:attribute', got {import_path!r}")
        self.lazy_commands[name] = import_path

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy_commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.lazy_commands:
            module, _, attribute = self.lazy_commands[cmd_name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(
    cls=FintrustGroup,
    name="fintrust",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="Run 'fintrust COMMAND --help' for the options of a command.",
)
@click.version_option(__version__, "-V", "--version", prog_name="fintrust")
def main() -> None:
    """Move money through Trustly: tools for merchants integrating Trustly's EMEA API.

    \b
    Examples:
      fintrust keys generate
      fintrust signature verify response.json --environment test
      fintrust signature sign request.json --private-key merchant_private.pem \\
        | fintrust signature verify --public-key merchant_public.pem
    """


main.add_lazy_command("api-keys", "fintrust.cli.api_keys:api_keys")
main.add_lazy_command("db", "fintrust.cli.db:db")
main.add_lazy_command("demo", "fintrust.cli.demo:demo")
main.add_lazy_command("keys", "fintrust.cli.keys:keys")
main.add_lazy_command("ledger", "fintrust.cli.ledger:ledger")
main.add_lazy_command("suspense", "fintrust.cli.operations:suspense")
main.add_lazy_command("wallets", "fintrust.cli.operations:wallets")
main.add_lazy_command("reconcile", "fintrust.cli.reconcile:reconcile")
main.add_lazy_command("serve", "fintrust.cli.serve:serve")
main.add_lazy_command("signature", "fintrust.cli.signature:signature")
main.add_lazy_command("worker", "fintrust.cli.worker:worker")
main.add_lazy_command("emulator", "trustly_emulator.cli:emulator")
