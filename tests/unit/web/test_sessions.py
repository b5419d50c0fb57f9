"""Session cookies and CSRF tokens: signed, bound to one session, expiring."""

from __future__ import annotations

import time

import pytest

from fintrust.web.sessions import Session, SessionCodec

SECRET = "a-test-secret-of-enough-length"


def test_a_session_round_trips_and_a_changed_byte_is_refused() -> None:
    codec = SessionCodec(SECRET)
    session = Session.new(42)
    cookie = codec.dumps(session)
    assert codec.loads(cookie) == session
    payload, mac = cookie.split(".")
    for forged in (
        f"{payload[:-1]}{'A' if payload[-1] != 'A' else 'B'}.{mac}",
        f"{payload}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",
        payload,
        "",
        "a.b.c",
    ):
        assert codec.loads(forged) is None
    assert SessionCodec("another-secret-of-enough-length").loads(cookie) is None


def test_sessions_expire() -> None:
    codec = SessionCodec(SECRET, max_age=60)
    cookie = codec.dumps(Session.new(1))
    assert codec.loads(cookie, now=time.time() + 59) is not None
    assert codec.loads(cookie, now=time.time() + 61) is None
    assert codec.loads(cookie, now=time.time() - 3600) is None  # issued in the future


def test_csrf_tokens_belong_to_one_session() -> None:
    codec = SessionCodec(SECRET)
    one, two = Session.new(None), Session.new(None)
    token = codec.csrf_token(one)
    assert codec.csrf_ok(one, token)
    assert not codec.csrf_ok(two, token)
    assert not codec.csrf_ok(None, token)
    assert not codec.csrf_ok(one, "")
    signed_in = Session.new(7)  # signing in issues a new session id
    assert not codec.csrf_ok(signed_in, token)
    # The cookie's MAC and the CSRF token use different keys: one never passes as the other.
    assert codec.dumps(one).split(".")[1] != token


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 16"):
        SessionCodec("short")
