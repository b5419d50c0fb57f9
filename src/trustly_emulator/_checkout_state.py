"""The checkout's hidden ``state`` field: what a page knows from the pages before it.

It travels through the browser, so it is signed with an HMAC under a random secret of this app
and nothing in it is believed unless the signature holds. Its keys, short to keep the field
small: ``o`` OrderID, ``s`` SessionID, ``l`` Locale, ``b`` bank code, ``sc`` scenario,
``m`` amount, ``i`` login identifier, ``a`` account number, ``x`` Trustly Express AccountID.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping

from fastapi import Request

from trustly_emulator._state import Order

__all__ = ["app_secret", "order_state", "read_state", "sign_state"]

_MAX_TOKEN = 4096  # an oversized field is refused before its MAC is even computed


def app_secret(request: Request) -> bytes:
    """This app's random key for the signed ``state`` field, made on first use."""
    state = request.app.state
    secret: bytes | None = getattr(state, "checkout_secret", None)
    if secret is None:
        secret = secrets.token_bytes(32)
        state.checkout_secret = secret
    return secret


def order_state(order: Order, locale: str, **more: str) -> dict[str, str]:
    """The state every page starts from: which order, proven by its session, in which locale."""
    return {"o": order.order_id, "s": order.session_id, "l": locale, **more}


def sign_state(secret: bytes, state: Mapping[str, str]) -> str:
    body = base64.urlsafe_b64encode(
        json.dumps(dict(state), separators=(",", ":"), sort_keys=True).encode()
    ).decode("ascii")
    return f"{body}.{_mac(secret, body)}"


def read_state(secret: bytes, token: str) -> dict[str, str] | None:
    """The state signed into ``token``, or None when it was not made here or was changed."""
    if len(token) > _MAX_TOKEN:
        return None
    body, _, mac = token.partition(".")
    if not hmac.compare_digest(mac.encode(), _mac(secret, body).encode()):
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(body.encode("ascii")))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in state.items()
    ):
        return None
    return state


def _mac(secret: bytes, body: str) -> str:
    return hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
