"""``POST /api/1``: check a request the way Trustly does, then answer it, signed.

Order of checks (protocol spec §8): JSON → method → credentials (616) → merchant key (639) →
signature (636) → UUID reuse (identical: the stored answer; different: 688) → parameters →
MessageID reuse (637, in the method handlers).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from fintrust.trustly import build_error, build_result, decode_json, signed_part
from fintrust.trustly._envelope import UUID_PATTERN
from trustly_emulator._validation import RpcError

if TYPE_CHECKING:
    from trustly_emulator._emulator import Emulator

__all__ = ["handle_request"]

logger = logging.getLogger("trustly_emulator.api")

Handler = Callable[["Emulator", str, Mapping[str, Any]], Any]


def handle_request(emulator: Emulator, body: bytes, handlers: Mapping[str, Handler]) -> bytes:
    """Answer one JSON-RPC request body with a response body (always JSON-RPC, never raises)."""
    try:
        message = decode_json(body)
        part = signed_part(message)
    except (ValueError, RecursionError):
        # Trustly answers a body it cannot read with an unsigned JSON-RPC error.
        return build_error(None, None, 620, "ERROR_UNKNOWN", None)
    method, uuid = part.method, part.uuid
    try:
        if part.kind != "request" or not isinstance(part.data, Mapping):
            raise RpcError(623, "ERROR_INVALID_PARAMETERS", "expected params.Signature/UUID/Data")
        if message.get("version") not in ("1.1", 1.1):
            raise RpcError(623, "ERROR_INVALID_PARAMETERS", "version must be '1.1'")
        if not uuid or not UUID_PATTERN.match(uuid):
            raise RpcError(623, "ERROR_INVALID_PARAMETERS", "UUID must be 8-4-4-4-12 hex")
        if method is None or method not in handlers:
            raise RpcError(620, "ERROR_INVALID_FUNCTION", f"unknown method {method!r}")
        merchant = _authenticate(emulator, method, uuid, part.data, part.signature)
    except RpcError as error:
        return _error(emulator, method, uuid, error)
    return _answer(
        emulator, handlers[method], merchant=merchant, method=method, uuid=uuid,
        message=message, body=body, data=part.data,
    )  # fmt: skip


def _answer(
    emulator: Emulator,
    handler: Handler,
    *,
    merchant: str,
    method: str,
    uuid: str,
    message: Any,
    body: bytes,
    data: Mapping[str, Any],
) -> bytes:
    key = (merchant, uuid)
    stored = emulator.store.requests.get(key)
    if stored is not None:
        first_request, first_answer = stored
        if decode_json(first_request) == message:
            return first_answer  # an identical re-send: Trustly does not act twice
        return _error(emulator, method, uuid, RpcError(688, "ERROR_DUPLICATE_UUID"))
    try:
        answer = build_result(method, uuid, handler(emulator, merchant, data), emulator.keys.signer)
    except RpcError as error:
        answer = _error(emulator, method, uuid, error)
    emulator.store.requests[key] = (body, answer)
    return answer


def _authenticate(
    emulator: Emulator, method: str, uuid: str, data: Mapping[str, Any], signature: str | None
) -> str:
    username, password = data.get("Username"), data.get("Password")
    merchant = emulator.store.merchants.get(username) if isinstance(username, str) else None
    if merchant is None or password != merchant.password:
        raise RpcError(616, "ERROR_INVALID_CREDENTIALS")
    if not merchant.public_key_pem:
        raise RpcError(639, "ERROR_NO_PUBLIC_KEY")
    try:
        verified = emulator.merchant_verifier(merchant.username).verify(
            method, uuid, data, signature
        )
    except TypeError:  # floats or booleans in Data: not signable, so not verifiable
        verified = False
    if not verified:
        raise RpcError(636, "ERROR_UNABLE_TO_VERIFY_RSA_SIGNATURE")
    return merchant.username


def _error(emulator: Emulator, method: str | None, uuid: str | None, error: RpcError) -> bytes:
    logger.info("answering %s %s with %s %s %s", method, uuid, error.code, error.name, error.detail)
    emulator.record_api_error(method, uuid, error)
    return build_error(method, uuid, error.code, error.name, emulator.keys.signer)
