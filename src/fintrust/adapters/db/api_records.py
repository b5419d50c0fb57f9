"""The merchant API's own rows: API keys (stored only as SHA-256 hashes) and idempotency
records (one per API key and ``Idempotency-Key``).

An idempotency record is claimed first with ``status_code`` 0, then settled with the answer.
Every change after the claim is a compare-and-set on ``(status_code, response_body)``, so a
request that lost its claim (taken over after it stalled) can never write over another's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Select, delete, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from fintrust.adapters.db.schema import api_keys, idempotency_records

__all__ = ["ApiKeyRepository", "IdempotencyRecord", "IdempotencyRepository"]


class ApiKeyRepository:
    def __init__(self, connection: Connection, now: dt.datetime) -> None:
        self._db = connection
        self._now = now

    def add(self, name: str, key_hash: str) -> int:
        key = self._db.execute(
            insert(api_keys).values(name=name, key_hash=key_hash, created_at=self._now)
        )
        assert key.inserted_primary_key is not None
        return int(key.inserted_primary_key[0])

    def by_hash(self, key_hash: str) -> Row[Any] | None:
        return self._db.execute(select(api_keys).where(api_keys.c.key_hash == key_hash)).first()

    def get(self, key_id: int) -> Row[Any] | None:
        return self._db.execute(select(api_keys).where(api_keys.c.id == key_id)).first()

    def all(self) -> list[Row[Any]]:
        return list(self._db.execute(select(api_keys).order_by(api_keys.c.id)))

    def revoke(self, key_id: int) -> bool:
        """Revoke the key; False when there is no such key or it was revoked before."""
        result = self._db.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=self._now)
        )
        return result.rowcount == 1


@dataclass(frozen=True)
class IdempotencyRecord:
    id: int
    request_hash: str
    status_code: int  # 0 while the request is in progress
    response_body: str


class IdempotencyRepository:
    def __init__(self, connection: Connection, now: dt.datetime) -> None:
        self._db = connection
        self.now = now

    def insert(self, api_key_id: int, key: str, request_hash: str, body: str) -> int | None:
        """Claim ``key`` (status 0); None when a record for it exists (the unique constraint
        makes a concurrent duplicate wait for the first claim, then fail here)."""
        nested = self._db.begin_nested()
        try:
            result = self._db.execute(
                insert(idempotency_records).values(
                    api_key_id=api_key_id,
                    key=key,
                    request_hash=request_hash,
                    status_code=0,
                    response_body=body,
                    created_at=self.now,
                )
            )
        except IntegrityError:
            nested.rollback()
            return None
        nested.commit()
        assert result.inserted_primary_key is not None
        return int(result.inserted_primary_key[0])

    def get(self, api_key_id: int, key: str) -> IdempotencyRecord | None:
        r = idempotency_records.c
        return self._one(
            select(idempotency_records).where(r.api_key_id == api_key_id, r.key == key)
        )

    def by_id(self, record_id: int) -> IdempotencyRecord | None:
        return self._one(select(idempotency_records).where(idempotency_records.c.id == record_id))

    def _one(self, query: Select[Any]) -> IdempotencyRecord | None:
        row = self._db.execute(query).first()
        if row is None:
            return None
        return IdempotencyRecord(row.id, row.request_hash, row.status_code, row.response_body)

    def swap(self, record_id: int, expected_body: str, status_code: int, body: str) -> bool:
        """Replace an in-progress record's answer if it is still ``expected_body``."""
        r = idempotency_records.c
        result = self._db.execute(
            update(idempotency_records)
            .where(r.id == record_id, r.status_code == 0, r.response_body == expected_body)
            .values(status_code=status_code, response_body=body)
        )
        return result.rowcount == 1

    def release(self, record_id: int, expected_body: str) -> bool:
        """Forget an in-progress claim whose request had no effect: the key may be used again."""
        r = idempotency_records.c
        result = self._db.execute(
            delete(idempotency_records).where(
                r.id == record_id, r.status_code == 0, r.response_body == expected_body
            )
        )
        return result.rowcount == 1
