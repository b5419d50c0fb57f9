"""What several ``fintrust emulator`` commands share: options, output, keys and defaults."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from fintrust.trustly import KeyLoadError, load_public_key
from trustly_emulator._config import CONFIG_FILE, EmulatorKeys
from trustly_emulator._scenarios import catalogue

__all__ = [
    "CURRENCY",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "OPTIONAL_NOTIFICATIONS",
    "base_url_option",
    "data_dir_option",
    "default_base_url",
    "note",
    "read_private_key",
    "read_public_key",
    "scenario_kinds",
    "stderr",
    "stdout",
]

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100
DEFAULT_DATA_DIR = Path(".emulator")
OPTIONAL_NOTIFICATIONS = ("account", "payoutconfirmation", "payoutfailed")
CURRENCY = re.compile(r"^[A-Z]{3}$")
PIPE_WIDTH = 160


def data_dir_option(function: F) -> F:
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


def base_url_option(function: F) -> F:
    decorated: F = click.option(
        "--base-url",
        metavar="URL",
        envvar="FINTRUST_EMULATOR_BASE_URL",
        show_envvar=True,
        help=f"Where merchants and browsers reach the emulator "
        f"[default: http://{DEFAULT_HOST}:{DEFAULT_PORT}].",
    )(function)
    return decorated


def default_base_url(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


def stdout() -> Console:
    """Rich output; when it is not a terminal (a pipe, a file, a test), tables get room to
    stay on one line per row instead of rich's default 80 columns."""
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def stderr() -> Console:
    return Console(stderr=True, highlight=False)


def note(text: str) -> None:
    click.echo(text, err=True)


def read_public_key(path: Path, param_hint: str) -> str:
    """The PEM in ``path``, checked now: a private key or a certificate given by mistake is
    a usage error, not a failure on the first request."""
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


def read_private_key(path: Path, param_hint: str) -> EmulatorKeys:
    """The key pair of the private key (PEM) in ``path``, never created: a new key would be
    one no merchant trusts."""
    try:
        return EmulatorKeys.from_private_key_file(path)
    except (KeyLoadError, OSError) as exc:
        raise click.BadParameter(f"cannot load {path}: {exc}", param_hint=param_hint) from None


def scenario_kinds() -> list[str]:
    """Every kind of order some scenario applies to, for ``--kind`` choices."""
    return sorted({kind for s in catalogue() for kind in s.applies_to})
