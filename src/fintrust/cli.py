"""The ``fintrust`` command line.

``main`` is the root click group. Other modules add their own subcommand groups to it, either
eagerly with ``main.add_command(group)`` or lazily (imported only when that subcommand runs, so
``fintrust keys generate`` never imports a web server or a database driver) with
``main.add_lazy_command("serve", "fintrust.server.cli:serve")``.

This module holds the commands that only need the wire protocol:

* ``fintrust keys generate`` - a new merchant RSA key pair.
* ``fintrust signature verify`` - check the signature of any Trustly message.
* ``fintrust signature sign`` - sign a message with the merchant private key.

Exit codes: 0 success, 1 failure (signature does not verify, unreadable input, bad key),
2 usage error (click's default).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fintrust import __version__
from fintrust.trustly import (
    Environment,
    SignedPart,
    Signer,
    Verifier,
    decode_json,
    serialize,
    signed_part,
    write_key_pair,
)

__all__ = ["FintrustGroup", "main"]

_MASK = "***"
_STDIN = "-"


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


# --------------------------------------------------------------------------------------- keys


@main.group(short_help="Create the merchant RSA key pair.")
def keys() -> None:
    """Create the merchant RSA key pair that signs your requests to Trustly."""


@keys.command("generate")
@click.option(
    "--private-key",
    "private_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("merchant_private.pem"),
    show_default=True,
    help="Where to write the private key (PKCS#8 PEM, file mode 0600).",
)
@click.option(
    "--public-key",
    "public_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("merchant_public.pem"),
    show_default=True,
    help="Where to write the public key (PEM) that you send to Trustly.",
)
@click.option(
    "--bits",
    type=click.IntRange(2048, 8192),
    default=2048,
    show_default=True,
    help="RSA key size. Trustly's documentation uses 2048.",
)
@click.option("--force", is_flag=True, help="Replace existing key files (the old keys are lost).")
def keys_generate(private_path: Path, public_path: Path, bits: int, force: bool) -> None:
    """Write a new RSA key pair and print the public key (PEM) on stdout.

    The private key is never printed. Send the public key to Trustly; keep the private key
    secret. Use a separate key pair for the test and the live environment.
    """
    if private_path.absolute() == public_path.absolute():
        raise click.BadParameter(
            "the private and the public key need two different files", param_hint="--public-key"
        )
    existing = [path for path in (private_path, public_path) if path.exists() or path.is_symlink()]
    if existing and not force:
        names = " and ".join(str(path) for path in existing)
        verb = "exists" if len(existing) == 1 else "exist"
        raise click.ClickException(
            f"{names} already {verb}; refusing to overwrite a key. Choose other paths with "
            "--private-key/--public-key, or pass --force to replace them (the old private key "
            "is lost, and Trustly must be sent the new public key)."
        )
    try:
        for path in existing:
            path.unlink()
        public_pem = write_key_pair(private_path, public_path, bits)
    except OSError as exc:
        raise click.ClickException(
            f"cannot write the key pair: {exc.strerror or exc} ({exc.filename or private_path}). "
            "Check that the directory exists and is writable."
        ) from None
    click.echo(public_pem.decode("ascii"), nl=False)
    say = _stderr_echo
    say(f"Wrote the private key to {private_path} (mode 0600) and the public key to {public_path}.")
    say("Next steps:")
    say(f"  1. Send this public key ({public_path}) to Trustly's integration team.")
    say(f"  2. Keep the private key ({private_path}) secret: never commit, e-mail or share it.")
    say("  3. Generate a new, separate key pair for the live environment.")


# --------------------------------------------------------------------------------- signature


@main.group(short_help="Sign and verify Trustly messages.")
def signature() -> None:
    """Sign and verify Trustly messages (method + uuid + serialize(data), RSA SHA-1).

    Works on API requests, API responses, signed error responses, notifications and
    notification responses, and on a bare {"method": ..., "uuid": ..., "data": ...} object.
    """


_MESSAGE_ARGUMENT = click.argument("message_file", metavar="[FILE|-]", default=_STDIN)


@signature.command("verify")
@_MESSAGE_ARGUMENT
@click.option(
    "--public-key",
    "public_keys",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM public key to verify with; repeat to accept any of several keys. Use the "
    "merchant public key for requests and notification responses.",
)
@click.option(
    "--environment",
    type=click.Choice([env.value for env in Environment]),
    default=None,
    help="Verify with Trustly's bundled public key of this environment (the default is "
    "'test' when no --public-key is given).",
)
@click.option(
    "--show-plaintext", is_flag=True, help="Also print the plaintext when the signature is OK."
)
def signature_verify(
    message_file: str, public_keys: tuple[Path, ...], environment: str | None, show_plaintext: bool
) -> None:
    """Verify the signature of a Trustly message read from FILE (or stdin).

    Exits 0 when the signature is valid under one of the keys, 1 when it is not (the checked
    plaintext is printed so you can compare it with yours) or when there is nothing to verify.
    """
    candidates = _verifiers(public_keys, environment)
    message = _read_message(message_file)
    part = _locate(message)
    if not part.signature:
        hint = (
            "an error response without an inner 'error' object is unsigned and cannot be verified"
            if part.holder is None
            else f"the {part.label} has no '{part.signature_key}'; sign it first "
            "with 'fintrust signature sign'"
        )
        raise click.ClickException(f"nothing to verify: {hint}.")
    text = _plaintext(part.method, part.uuid, part.data)
    matched = next(
        (
            label
            for label, verifier in candidates
            if verifier.verify(part.method, part.uuid, part.data, part.signature)
        ),
        None,
    )
    click.echo("signature OK" if matched else "signature INVALID")
    _print_summary(part, matched or "none of: " + ", ".join(label for label, _ in candidates))
    if matched and not show_plaintext:
        return
    masked_text = _plaintext(part.method, part.uuid, _mask_passwords(part.data))
    note = f"; the Password value is shown as {_MASK}" if masked_text != text else ""
    click.echo(f"plaintext checked (method + uuid + serialize(data), UTF-8{note}):")
    click.echo(masked_text)
    if not matched:
        raise click.ClickException(f"the signature does not verify. {_mismatch_hint(part)}")


@signature.command("sign")
@_MESSAGE_ARGUMENT
@click.option(
    "--private-key",
    "private_key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The merchant private key (PEM).",
)
@click.option(
    "--password-env",
    metavar="VAR",
    help="Name of the environment variable holding the private key's passphrase.",
)
@click.option(
    "--show-plaintext",
    is_flag=True,
    help="Print the signed plaintext on stderr (Password values masked).",
)
@click.option(
    "--indent", type=click.IntRange(0, 8), default=None, help="Pretty-print the JSON output."
)
def signature_sign(
    message_file: str,
    private_key: Path,
    password_env: str | None,
    show_plaintext: bool,
    indent: int | None,
) -> None:
    """Sign a message read from FILE (or stdin) and print it as JSON with its signature.

    The signature goes where the message kind expects it (params.Signature for a request,
    result.signature for a notification response, ...). Pipe the output into
    'fintrust signature verify --public-key YOUR_PUBLIC_KEY' to check it.
    """
    signer = _signer(private_key, password_env)
    message = _read_message(message_file)
    part = _locate(message)
    if part.holder is None:
        raise click.ClickException(
            "an error response without an inner 'error' object has nothing to sign; add "
            "error.error with method, uuid and data."
        )
    try:
        part.holder[part.signature_key] = signer.sign(part.method, part.uuid, part.data)
    except TypeError as exc:  # SerializationError: floats, booleans, non-JSON values
        raise click.ClickException(f"cannot sign this data: {exc}") from None
    if show_plaintext:
        _stderr_echo("plaintext signed (Password values shown as ***):")
        _stderr_echo(_plaintext(part.method, part.uuid, _mask_passwords(part.data)))
    click.echo(_dump_json(message, indent).encode("utf-8"))


# ------------------------------------------------------------------------------------ helpers


@dataclass(frozen=True, slots=True)
class _Part:
    """The signed fields of a message, and where its signature lives."""

    label: str
    method: str | None
    uuid: str | None
    data: Any
    signature: str | None
    holder: MutableMapping[str, Any] | None
    signature_key: str
    merchant_signed: bool


def _stderr_echo(text: str) -> None:
    click.echo(text, err=True)


def _read_message(source: str) -> Any:
    try:
        if source == _STDIN:
            if sys.stdin.isatty():
                _stderr_echo("Reading a message from stdin (end with Ctrl-D)...")
            raw = sys.stdin.buffer.read()
        else:
            raw = Path(source).read_bytes()
    except OSError as exc:
        raise click.ClickException(
            f"cannot read {source}: {exc.strerror or exc}. Pass a readable file, or '-' for stdin."
        ) from None
    where = "stdin" if source == _STDIN else source
    if not raw.strip():
        raise click.ClickException(f"{where} is empty; expected a Trustly JSON-RPC message.")
    try:
        return decode_json(raw)
    except (ValueError, RecursionError) as exc:
        raise click.ClickException(
            f"{where} is not valid JSON ({exc}); expected a Trustly JSON-RPC message."
        ) from None


def _locate(message: Any) -> _Part:
    """Find the signed part of any message kind, or of a bare method/uuid/data object."""
    if (
        isinstance(message, dict)
        and not message.keys() & {"result", "error", "params"}
        and {"method", "uuid", "data"} <= message.keys()
    ):
        return _bare(message)
    try:
        part = signed_part(message)
    except ValueError as exc:
        raise click.ClickException(
            f"{exc}. Expected a JSON-RPC request, response, error, notification or "
            'notification response, or a bare {"method": ..., "uuid": ..., "data": ...} object.'
        ) from None
    if part.kind == "request":
        return _signed(part, "API request", message["params"], "Signature", merchant_signed=True)
    if part.kind == "notification":
        return _signed(part, "notification", message["params"], "signature")
    if part.kind == "error":
        return _signed(part, "API error response", message["error"].get("error"), "signature")
    if part.method and part.method.islower():  # notification methods: credit, debit, ...
        return _signed(part, "notification response", message["result"], "signature", True)
    return _signed(part, "API response", message["result"], "signature")


def _signed(
    part: SignedPart,
    label: str,
    holder: MutableMapping[str, Any] | None,
    signature_key: str,
    merchant_signed: bool = False,
) -> _Part:
    return _Part(
        label,
        part.method,
        part.uuid,
        part.data,
        part.signature,
        holder,
        signature_key,
        merchant_signed,
    )


def _bare(message: dict[str, Any]) -> _Part:
    method, uuid, signature = message["method"], message["uuid"], message.get("signature")
    for name, value in (("method", method), ("uuid", uuid), ("signature", signature)):
        if value is not None and not isinstance(value, str):
            raise click.ClickException(f"'{name}' must be a string.")
    return _Part("message", method, uuid, message["data"], signature, message, "signature", True)


def _plaintext(method: str | None, uuid: str | None, data: Any) -> str:
    try:
        return f"{method or ''}{uuid or ''}{serialize(data)}"
    except TypeError as exc:  # SerializationError
        raise click.ClickException(f"the data cannot be serialized for signing: {exc}") from None


def _mask_passwords(value: Any) -> Any:
    """A copy of ``value`` with every ``Password`` value (any letter case) replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            key: _MASK
            if isinstance(key, str) and key.lower() == "password" and item is not None
            else _mask_passwords(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask_passwords(item) for item in value]
    return value


def _verifiers(
    public_keys: tuple[Path, ...], environment: str | None
) -> list[tuple[str, Verifier]]:
    candidates: list[tuple[str, Verifier]] = []
    for path in public_keys:
        try:
            candidates.append((str(path), Verifier.from_pem(path.read_bytes())))
        except (OSError, ValueError) as exc:
            raise click.ClickException(
                f"cannot use {path} as a public key: {exc}. Pass a PEM file starting with "
                "'-----BEGIN PUBLIC KEY-----'."
            ) from None
    if environment is not None or not candidates:
        env = Environment(environment or Environment.TEST.value)
        candidates.append((f"Trustly {env.value} key", Verifier.for_environment(env)))
    return candidates


def _signer(path: Path, password_env: str | None) -> Signer:
    password: bytes | None = None
    if password_env is not None:
        value = os.environ.get(password_env)
        if value is None:
            raise click.ClickException(
                f"the environment variable {password_env} is not set; export it with the private "
                "key's passphrase, or leave out --password-env for an unencrypted key."
            )
        password = value.encode("utf-8")
    try:
        return Signer.from_file(path, password)
    except (OSError, ValueError) as exc:  # KeyLoadError never quotes key material
        hint = "" if password_env else " If the key is encrypted, pass --password-env VAR."
        raise click.ClickException(f"cannot use {path} as a private key: {exc}.{hint}") from None


def _print_summary(part: _Part, key: str) -> None:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, value in (
        ("kind", part.label),
        ("method", part.method),
        ("uuid", part.uuid),
        ("key", key),
    ):
        table.add_row(name, Text(value if value is not None else "(none)"))
    Console(highlight=False).print(table)


def _mismatch_hint(part: _Part) -> str:
    if part.merchant_signed:
        return (
            f"This {part.label} is signed with the merchant private key: verify it with "
            "--public-key MERCHANT_PUBLIC_KEY, and compare the plaintext above with the one your "
            "code signs."
        )
    return (
        f"This {part.label} is signed by Trustly: check the environment (--environment test "
        "or live) and that the message was not changed after it was received (verify the raw "
        "body)."
    )


def _dump_json(value: Any, indent: int | None) -> str:
    """JSON text like ``json.dumps`` that writes a :class:`Decimal` as its exact number text."""
    out: list[str] = []
    _write_json(value, out, indent, 0)
    return "".join(out)


def _write_json(value: Any, out: list[str], indent: int | None, level: int) -> None:
    if isinstance(value, Decimal):
        out.append(str(value))
        return
    if isinstance(value, Mapping):
        items: list[tuple[str | None, Any]] = [(str(key), item) for key, item in value.items()]
        opening, closing = "{", "}"
    elif isinstance(value, list | tuple):
        items = [(None, item) for item in value]
        opening, closing = "[", "]"
    else:
        out.append(json.dumps(value, ensure_ascii=False))
        return
    if not items:
        out.append(opening + closing)
        return
    inner = "" if indent is None else "\n" + " " * (indent * (level + 1))
    outer = "" if indent is None else "\n" + " " * (indent * level)
    out.append(opening)
    for index, (key, item) in enumerate(items):
        out.append(("," if index else "") + inner)
        if key is not None:
            out.append(json.dumps(key, ensure_ascii=False) + (":" if indent is None else ": "))
        _write_json(item, out, indent, level + 1)
    out.append(outer + closing)
