"""``Idempotency-Key`` for every POST: the same key and request get the same answer and at most
one effect; the same key with another request is a 422.

How (per API key and Idempotency-Key, one row in ``idempotency_records``):

1. *Claim* the key in a transaction of its own: insert the row with status 0 and a random
   token. The unique ``(api_key_id, key)`` makes a concurrent duplicate fail its insert; it
   then gets the stored answer, or 409 while the first request is still running.
2. Run the effect in the service's unit of work, which writes the answer to the row *in the
   same transaction* (compare-and-set on the token): the effect and its answer commit
   together or not at all. A Deposit's answer depends on the call sent after that commit, so
   its transaction stores a provisional 202 and the final answer is written afterwards.
3. A claim older than :data:`STALE_AFTER` belongs to a request that died: with no effect
   committed, another request may take the key over (new token); with the effect committed,
   its provisional answer becomes the answer. The token makes the stalled request's own late
   writes fail (and its effect roll back), so two effects can never both commit.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from fintrust.adapters.db.api_records import IdempotencyRecord, IdempotencyRepository
from fintrust.adapters.db.repositories import OrderRepository
from fintrust.adapters.db.uow import SqlUnitOfWork

__all__ = [
    "STALE_AFTER",
    "Answer",
    "Claim",
    "ClaimLostError",
    "EffectUnitOfWork",
    "IdempotencyKey",
    "claim_key",
    "error",
    "fingerprint",
    "run_idempotent",
]

logger = logging.getLogger("fintrust.api")

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200
STALE_AFTER = dt.timedelta(minutes=5)  # far longer than a Deposit call and its timeout


@dataclass(frozen=True)
class Answer:
    status_code: int
    body: dict[str, Any]
    replayed: bool = False

    def response(self) -> JSONResponse:
        headers = {"Idempotent-Replayed": "true"} if self.replayed else None
        return JSONResponse(self.body, status_code=self.status_code, headers=headers)


def error(status_code: int, message: str, **extra: Any) -> Answer:
    return Answer(status_code, {"error": message, **extra})


def _dumps(value: Any) -> str:
    """As :class:`JSONResponse` renders it: a replay is byte for byte the first answer."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def fingerprint(method: str, path: str, payload: Any) -> str:
    """What makes two requests "the same": method, path and the validated body."""
    canonical = json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def require_idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            description="Unique per operation (a UUID); send the same one when retrying it. "
            "Same key and body: the stored answer, no second effect. Different body: 422.",
        ),
    ] = None,
) -> str:
    if key is None or not key.strip():
        raise HTTPException(
            400,
            f"the {HEADER} header is required on every POST: send a new unique value (a UUID) "
            "per operation, and the same value when retrying it, so that a retry never "
            "repeats the operation",
        )
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise HTTPException(400, f"{HEADER} is at most {MAX_KEY_LENGTH} printable characters")
    return key


IdempotencyKey = Annotated[str, Depends(require_idempotency_key)]


class ClaimLostError(Exception):
    """This request stalled and another took its key over: its effect must not commit."""


def _in_progress(now: dt.datetime, pending: Answer | None = None) -> str:
    state: dict[str, Any] = {"token": uuid_module.uuid4().hex, "claimed_at": now.isoformat()}
    if pending is not None:
        state["pending"] = {"status": pending.status_code, "body": pending.body}
    return _dumps(state)


def _pending(state: str) -> Answer | None:
    pending = json.loads(state).get("pending")
    return Answer(pending["status"], pending["body"]) if pending else None


def _is_stale(state: str, now: dt.datetime) -> bool:
    return dt.datetime.fromisoformat(json.loads(state)["claimed_at"]) <= now - STALE_AFTER


class Claim:
    """This request holds its key: effect and answer are written under the claim's token."""

    def __init__(self, engine: Engine, record_id: int, state: str) -> None:
        self._engine = engine
        self.record_id = record_id
        self._state = state  # the row's response_body while in progress (status 0)
        self._final: Answer | None = None

    def unit_of_work(
        self, answer: Callable[[EffectUnitOfWork], Answer], *, final: bool = True
    ) -> Callable[[], SqlUnitOfWork]:
        """A unit-of-work factory for the service running the effect. Before it commits,
        ``answer(work)`` (in the same transaction) gives the answer, stored as final, or as
        provisional (``final=False``) when more is to happen after the commit."""
        return lambda: EffectUnitOfWork(self._engine, self, answer, final=final)

    def _settle(self, work: SqlUnitOfWork, answer: Answer, *, final: bool) -> str:
        new_state = _dumps(answer.body) if final else _in_progress(work.now, answer)
        status = answer.status_code if final else 0
        records = IdempotencyRepository(work.connection, work.now)
        if not records.swap(self.record_id, self._state, status, new_state):
            raise ClaimLostError(self.record_id)
        return new_state

    def _committed(self, state: str, answer: Answer, *, final: bool) -> None:
        self._state = state
        if final:
            self._final = answer

    def result(self) -> Answer:
        """The final answer the effect's transaction stored with the effect."""
        if self._final is None:
            raise RuntimeError("the effect did not commit a final answer")
        return self._final

    def finish(self, answer: Answer) -> Answer:
        """Store ``answer`` unless the effect's transaction stored the final one already."""
        if self._final is not None:
            return self._final
        with SqlUnitOfWork(self._engine) as work:
            try:
                self._settle(work, answer, final=True)
            except ClaimLostError:
                lost = True
            else:
                lost = False
                work.commit()
        if lost:  # read in a transaction of its own: SQLite has one writer at a time
            return self.stored()
        self._final = answer
        return answer

    def abandon(self) -> None:
        """The request failed unexpectedly: without an effect the key is free again; with
        one, its provisional answer stands."""
        if self._final is not None:
            return
        pending = _pending(self._state)
        if pending is not None:
            self.finish(pending)
            return
        with SqlUnitOfWork(self._engine) as work:
            IdempotencyRepository(work.connection, work.now).release(self.record_id, self._state)
            work.commit()

    def stored(self) -> Answer:
        """Whatever the row says now (after this claim was lost)."""
        with SqlUnitOfWork(self._engine) as work:
            row = IdempotencyRepository(work.connection, work.now).by_id(self.record_id)
        if row is None or row.status_code == 0:
            return _busy()
        return Answer(row.status_code, json.loads(row.response_body), replayed=True)


class _RecordingOrders(OrderRepository):
    def __init__(self, work: EffectUnitOfWork) -> None:
        super().__init__(work.connection, work.now)
        self._added = work.new_order_ids

    def add(self, **values: Any) -> int:
        order_id = super().add(**values)
        self._added.append(order_id)
        return order_id


class EffectUnitOfWork(SqlUnitOfWork):
    """The service's own unit of work, plus the request's answer written before it commits.
    ``new_order_ids`` lists the orders the service wrote, for the answer to show."""

    def __init__(
        self,
        engine: Engine,
        claim: Claim,
        answer: Callable[[EffectUnitOfWork], Answer],
        *,
        final: bool,
    ) -> None:
        super().__init__(engine)
        self._claim, self._answer, self._final = claim, answer, final
        self.new_order_ids: list[int] = []

    def __enter__(self) -> EffectUnitOfWork:
        super().__enter__()
        self.orders = _RecordingOrders(self)
        return self

    def commit(self) -> None:
        answer = self._answer(self)
        state = self._claim._settle(self, answer, final=self._final)
        super().commit()
        self._claim._committed(state, answer, final=self._final)


def claim_key(engine: Engine, api_key_id: int, key: str, request_hash: str) -> Claim | Answer:
    """Claim ``key`` for this request, or the answer to give instead (stored, 409 or 422)."""
    with SqlUnitOfWork(engine) as work:
        records = IdempotencyRepository(work.connection, work.now)
        state = _in_progress(work.now)
        record_id = records.insert(api_key_id, key, request_hash, state)
        if record_id is None:
            record = records.get(api_key_id, key)
            # None: released between our insert and this read; the client may ask again.
            taken = _busy() if record is None else _existing(records, record, request_hash, state)
            if isinstance(taken, Answer):
                work.commit()
                return taken
            record_id = taken
        work.commit()
    return Claim(engine, record_id, state)


def _busy() -> Answer:
    return error(409, "a request with this Idempotency-Key is still in progress: retry shortly")


def _existing(
    records: IdempotencyRepository, record: IdempotencyRecord, request_hash: str, state: str
) -> Answer | int:
    """The answer for a key claimed before, or the record's id when this request takes over."""
    if record.request_hash != request_hash:
        return error(
            422,
            f"this {HEADER} was used for a different request (another body or path); "
            "a new operation needs a new key",
        )
    if record.status_code != 0:
        return Answer(record.status_code, json.loads(record.response_body), replayed=True)
    if not _is_stale(record.response_body, records.now):
        return _busy()
    pending = _pending(record.response_body)
    if pending is None:  # its request died before any effect: this one takes over
        return record.id if records.swap(record.id, record.response_body, 0, state) else _busy()
    # The effect committed but its request died before the final answer: the provisional
    # answer (a Deposit whose outcome is unknown) becomes the answer.
    if records.swap(record.id, record.response_body, pending.status_code, _dumps(pending.body)):
        return Answer(pending.status_code, pending.body, replayed=True)
    return _busy()


def run_idempotent(
    engine: Engine,
    api_key_id: int,
    key: str,
    request_hash: str,
    effect: Callable[[Claim], Answer],
) -> JSONResponse:
    """Claim the key, run ``effect`` once under it, and answer (stored for every retry)."""
    claimed = claim_key(engine, api_key_id, key, request_hash)
    if isinstance(claimed, Answer):
        return claimed.response()
    try:
        answer = effect(claimed)
    except ClaimLostError:
        return claimed.stored().response()
    except BaseException:
        try:
            claimed.abandon()
        except Exception:  # the original error matters more; the claim goes stale instead
            logger.exception("could not release Idempotency-Key claim %s", claimed.record_id)
        raise
    return claimed.finish(answer).response()
