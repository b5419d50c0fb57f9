"""JSON-RPC 1.1 envelopes: building signed messages and reading Trustly's answers (spec §2)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from fintrust.trustly._errors import (
    MalformedResponseError,
    RejectedError,
    ResponseMismatchError,
    ResponseSignatureError,
    ServerError,
    TrustlyAPIError,
    UnsignedErrorResponseError,
    api_error_class,
)
from fintrust.trustly._signing import Signer, Verifier

__all__ = [
    "SignedPart",
    "build_error",
    "build_notification",
    "build_request",
    "build_result",
    "decode_json",
    "encode_json",
    "read_response",
    "signed_part",
    "verify_message",
]

MessageKind = Literal["request", "result", "error", "notification"]
UUID_PATTERN = re.compile(r"\A[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# Built once: json.dumps/json.loads with options build a new coder on every call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=_refuse_constant)


def encode_json(message: Any) -> bytes:
    """Compact UTF-8 JSON. Deterministic for a given message, so a re-built request is identical."""
    return _ENCODER.encode(message).encode("utf-8")


def decode_json(body: bytes | str) -> Any:
    """Parse a message as received (Trustly's messages are UTF-8). Numbers with a fraction stay
    :class:`Decimal` with their exact text, so the signature is checked over what was sent.

    Raises ``ValueError`` (``UnicodeDecodeError`` and ``JSONDecodeError`` are both) on bad input.
    """
    return _DECODER.decode(body.decode("utf-8") if isinstance(body, bytes) else body)


@dataclass(frozen=True, slots=True)
class SignedPart:
    """The four signed fields of any Trustly message, as received."""

    kind: MessageKind
    method: str | None
    uuid: str | None
    data: Any
    signature: str | None


def signed_part(message: Mapping[str, Any]) -> SignedPart:
    """Find ``method``, ``uuid``, ``data`` and ``signature`` in a request, result, error or
    notification. Raises ``ValueError`` for anything else."""
    if not isinstance(message, Mapping):
        raise ValueError("a Trustly message is a JSON object")
    if "result" in message:
        inner = _object(message["result"], "result")
        return _part(
            "result",
            inner,
            method_key="method",
            uuid_key="uuid",
            data_key="data",
            signature_key="signature",
        )
    if "error" in message:
        outer = _object(message["error"], "error")
        if outer.get("error") is None:
            return SignedPart("error", None, None, None, None)
        inner = _object(outer["error"], "error.error")
        return _part(
            "error",
            inner,
            method_key="method",
            uuid_key="uuid",
            data_key="data",
            signature_key="signature",
        )
    if "params" in message:
        params = _object(message["params"], "params")
        method = message.get("method")
        if "Signature" in params or "UUID" in params or "Data" in params:
            return _part(
                "request",
                params,
                method_key=None,
                uuid_key="UUID",
                data_key="Data",
                signature_key="Signature",
                method=method,
            )
        return _part(
            "notification",
            params,
            method_key=None,
            uuid_key="uuid",
            data_key="data",
            signature_key="signature",
            method=method,
        )
    raise ValueError("not a Trustly message: no 'result', 'error' or 'params'")


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"'{where}' must be a JSON object")
    return value


def _part(
    kind: MessageKind,
    obj: Mapping[str, Any],
    *,
    method_key: str | None,
    uuid_key: str,
    data_key: str,
    signature_key: str,
    method: Any = None,
) -> SignedPart:
    if method_key is not None:
        method = obj.get(method_key)
    uuid = obj.get(uuid_key)
    signature = obj.get(signature_key)
    for name, value in (("method", method), ("uuid", uuid), ("signature", signature)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"'{name}' must be a string")
    return SignedPart(kind, method, uuid, obj.get(data_key), signature)


def verify_message(message: Mapping[str, Any], verifier: Verifier) -> SignedPart | None:
    """The message's signed part if its signature verifies, else ``None``."""
    part = signed_part(message)
    if part.signature and verifier.verify(part.method, part.uuid, part.data, part.signature):
        return part
    return None


def build_request(method: str, uuid: str, data: Mapping[str, Any], signer: Signer) -> bytes:
    """A merchant → Trustly request; credentials must already be inside ``data``."""
    signature = signer.sign(method, uuid, data)
    return encode_json(
        {
            "method": method,
            "params": {"Signature": signature, "UUID": uuid, "Data": data},
            "version": "1.1",
        }
    )


def build_result(method: str, uuid: str, data: Any, signer: Signer) -> bytes:
    """A signed JSON-RPC result: Trustly's answer to a call, or a merchant's notification reply."""
    signature = signer.sign(method, uuid, data)
    return encode_json(
        {
            "result": {"signature": signature, "uuid": uuid, "method": method, "data": data},
            "version": "1.1",
        }
    )


def build_error(
    method: str | None, uuid: str | None, code: int, message: str, signer: Signer | None
) -> bytes:
    """A JSON-RPC error as Trustly sends it; unsigned (no inner object) when ``signer`` is None."""
    error: dict[str, Any] = {"name": "JSONRPCError", "code": code, "message": message}
    if signer is not None:
        data = {"code": code, "message": message}
        error["error"] = {
            "signature": signer.sign(method, uuid, data),
            "uuid": uuid,
            "method": method,
            "data": data,
        }
    return encode_json({"version": "1.1", "error": error})


def build_notification(method: str, uuid: str, data: Mapping[str, Any], signer: Signer) -> bytes:
    """A Trustly → merchant notification (lower-case ``params`` keys)."""
    signature = signer.sign(method, uuid, data)
    return encode_json(
        {
            "method": method,
            "params": {"signature": signature, "uuid": uuid, "data": data},
            "version": "1.1",
        }
    )


def read_response(
    body: bytes, *, method: str, uuid: str, verifier: Verifier, http_status: int = 200
) -> Any:
    """Verify Trustly's answer to our request and return its ``data``.

    Raises the :class:`TrustlyAPIError` subclass for a verified error, a
    :class:`RejectedError` for ``result: "0"``, and an :class:`UnknownOutcomeError` subclass
    for anything that cannot be believed (bad signature, other uuid or method, unsigned error,
    unreadable body). The HTTP status is not trusted: Trustly's status codes are undocumented.
    """
    try:
        message = decode_json(body)
        part = signed_part(message)
    except ValueError:
        if http_status >= 500:
            raise ServerError(
                f"HTTP {http_status} without a JSON-RPC body", method=method, uuid=uuid
            ) from None
        raise MalformedResponseError(
            f"HTTP {http_status}: not a JSON-RPC 1.1 response", method=method, uuid=uuid
        ) from None
    if message.get("version") != "1.1":
        raise MalformedResponseError("response version is not '1.1'", method=method, uuid=uuid)
    if part.kind not in ("result", "error"):
        raise MalformedResponseError(
            "response has neither 'result' nor 'error'", method=method, uuid=uuid
        )
    if part.kind == "error" and part.signature is None:
        raise _unsigned_error(message["error"], method, uuid)
    if not part.signature or not verifier.verify(part.method, part.uuid, part.data, part.signature):
        raise ResponseSignatureError(
            "the response signature does not verify with Trustly's public key "
            "(check that the key matches the environment)",
            method=method,
            uuid=uuid,
        )
    if part.uuid != uuid or part.method != method:
        raise ResponseMismatchError(
            f"response is for {part.method} {part.uuid}, not for this request",
            method=method,
            uuid=uuid,
        )
    if part.kind == "error":
        raise _signed_error(part.data, method, uuid)
    _raise_on_rejection(part.data, method, uuid)
    return part.data


def _unsigned_error(error: Any, method: str, uuid: str) -> UnsignedErrorResponseError:
    code = error.get("code") if isinstance(error, Mapping) else None
    name = error.get("message") if isinstance(error, Mapping) else None
    return UnsignedErrorResponseError(
        str(name) if name else "unsigned JSON-RPC error",
        code=code if isinstance(code, int) and not isinstance(code, bool) else None,
        method=method,
        uuid=uuid,
        detail="unsigned, so it cannot be verified",
    )


def _signed_error(data: Any, method: str, uuid: str) -> TrustlyAPIError:
    code = data.get("code") if isinstance(data, Mapping) else None
    name = data.get("message") if isinstance(data, Mapping) else None
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if not isinstance(code, int) or isinstance(code, bool):
        code = None
    name = name if isinstance(name, str) else None
    return api_error_class(code, name)(name, code=code, method=method, uuid=uuid)


def _raise_on_rejection(data: Any, method: str, uuid: str) -> None:
    if isinstance(data, Mapping) and data.get("result") in ("0", 0):
        reason = data.get("rejected")
        raise RejectedError(
            reason if isinstance(reason, str) else None, method=method, uuid=uuid, data=data
        )
