"""The click group class of ``fintrust emulator``: subcommands that may be imported lazily."""

from __future__ import annotations

import importlib
from typing import Any

import click

__all__ = ["EmulatorGroup"]


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
