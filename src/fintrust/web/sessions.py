"""Signed session cookies and CSRF tokens for the customer pages.

The cookie is ``<payload>.<mac>``: the payload is base64url JSON ``{"sid", "cid", "iat"}`` (a
random session id, the signed-in customer or null, the issue time) and the MAC is HMAC-SHA256
over it. A form's CSRF token is another HMAC, over the session id alone, so it is valid only
with the cookie it was issued for; signing in or out issues a new session id (no session
fixation, and forms of the old session stop working). Both keys are derived from
``Settings.session_secret`` with distinct labels, so one value can never stand for the other.
Nothing secret is in the payload: it is signed, not encrypted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

__all__ = ["COOKIE_NAME", "Session", "SessionCodec"]

COOKIE_NAME = "fintrust_session"
MAX_AGE = 8 * 3600  # seconds: a session ends this long after sign-in, used or not


@dataclass(frozen=True)
class Session:
    sid: str
    customer_id: int | None
    issued_at: int

    @classmethod
    def new(cls, customer_id: int | None = None) -> Session:
        """A fresh session (a new id: no token of an earlier session carries over)."""
        return cls(secrets.token_urlsafe(18), customer_id, int(time.time()))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionCodec:
    def __init__(self, secret: str, *, max_age: int = MAX_AGE) -> None:
        if len(secret) < 16:
            raise ValueError("session_secret must be at least 16 characters of random data")
        master = secret.encode("utf-8")
        self._cookie_key = hmac.new(master, b"fintrust pages: session cookie", "sha256").digest()
        self._csrf_key = hmac.new(master, b"fintrust pages: csrf token", "sha256").digest()
        self.max_age = max_age

    def dumps(self, session: Session) -> str:
        payload = _b64(
            json.dumps(
                {"sid": session.sid, "cid": session.customer_id, "iat": session.issued_at},
                separators=(",", ":"),
            ).encode()
        )
        return f"{payload}.{self._mac(payload)}"

    def loads(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session in ``cookie``, or None when it is missing, forged, malformed or old."""
        if not cookie or cookie.count(".") != 1:
            return None
        payload, mac = cookie.split(".")
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            data = json.loads(_unb64(payload))
            session = Session(str(data["sid"]), data["cid"], int(data["iat"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if session.customer_id is not None and not isinstance(session.customer_id, int):
            return None
        age = (time.time() if now is None else now) - session.issued_at
        if not -60 <= age <= self.max_age:  # a minute of clock skew between processes
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        digest = hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).digest()
        return _b64(digest)

    def csrf_ok(self, session: Session | None, token: str | None) -> bool:
        if session is None or not token:
            return False
        return hmac.compare_digest(token.encode(), self.csrf_token(session).encode())

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._cookie_key, payload.encode(), hashlib.sha256).digest())
