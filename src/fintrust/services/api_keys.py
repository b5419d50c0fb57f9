"""API keys for the merchant API: random, shown once, stored only as their SHA-256.

A key has 256 random bits, so a plain SHA-256 (no salt, no slow hash) is enough to make a
stolen table useless, and lets a key be found by its hash with one indexed lookup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fintrust.adapters.db.api_records import ApiKeyRepository
from fintrust.adapters.db.uow import SqlUnitOfWork

__all__ = [
    "KEY_PREFIX",
    "ApiKey",
    "ApiKeyError",
    "NewApiKey",
    "create_api_key",
    "hash_key",
    "list_api_keys",
    "revoke_api_key",
    "verify_api_key",
]

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]
KEY_PREFIX = "ftk_"  # recognisable in a leaked file, in secret scanners and in support tickets
MAX_NAME = 100


class ApiKeyError(ValueError):
    """The key is missing, unknown or revoked. The message never contains the key."""


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    secret: str = field(repr=False)  # shown to its owner once, never stored or logged


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _api_key(row: Any) -> ApiKey:
    return ApiKey(row.id, row.name, row.created_at, row.revoked_at)


def create_api_key(uow: UnitOfWorkFactory, name: str) -> NewApiKey:
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"an API key's name has 1 to {MAX_NAME} characters")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with uow() as work:
        keys = ApiKeyRepository(work.connection, work.now)
        key_id = keys.add(name, hash_key(secret))
        row = keys.get(key_id)
        work.commit()
    return NewApiKey(_api_key(row), secret)


def verify_api_key(uow: UnitOfWorkFactory, secret: str) -> ApiKey:
    """The key ``secret`` belongs to, or :class:`ApiKeyError`."""
    if not secret:
        raise ApiKeyError("missing API key")
    with uow() as work:
        row = ApiKeyRepository(work.connection, work.now).by_hash(hash_key(secret))
    if row is None:
        raise ApiKeyError("invalid API key")
    key = _api_key(row)
    if key.revoked:
        raise ApiKeyError(f"API key {key.id} ({key.name}) was revoked")
    return key


def revoke_api_key(uow: UnitOfWorkFactory, key_id: int) -> bool:
    """Revoke at once; False when no such key exists or it was revoked before."""
    with uow() as work:
        done = ApiKeyRepository(work.connection, work.now).revoke(key_id)
        work.commit()
    return done


def list_api_keys(uow: UnitOfWorkFactory) -> list[ApiKey]:
    with uow() as work:
        return [_api_key(row) for row in ApiKeyRepository(work.connection, work.now).all()]
