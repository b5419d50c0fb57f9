"""``fintrust signature``: sign and verify any Trustly message, like Trustly's signature tester."""

from __future__ import annotations

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

from fintrust.trustly import (
    Environment,
    SignedPart,
    Signer,
    Verifier,
    decode_json,
    serialize,
    signed_part,
)

__all__ = ["signature"]

_MASK = "***"
_STDIN = "-"

# --------------------------------------------------------------------------------- signature


@click.group(short_help="Sign and verify Trustly messages.")
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
