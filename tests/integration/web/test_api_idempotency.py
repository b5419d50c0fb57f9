"""``Idempotency-Key`` on every POST: the same key and body get the same answer and one effect;
another body is a 422; concurrent duplicates and stalled requests never make two effects."""

from __future__ import annotations

import asyncio
import datetime as dt
from functools import partial

import pytest
from sqlalchemy import Engine, Table, func, select

from fintrust.adapters.db.schema import customers, orders
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.services.api_keys import create_api_key
from fintrust.services.customers import register_customer
from fintrust.web import _idempotency
from fintrust.web._idempotency import Answer, Claim, ClaimLostError, claim_key, run_idempotent
from tests.e2e.harness import World
from tests.integration.web.conftest import Api

pytestmark = pytest.mark.anyio

CUSTOMER = {
    "firstname": "Ada",
    "lastname": "L",
    "country": "SE",
    "locale": "sv_SE",
    "currency": "EUR",
}


def count(world: World, table: Table) -> int:
    with world.uow() as work:
        return int(work.connection.execute(select(func.count()).select_from(table)).scalar_one())


async def test_the_same_key_and_body_get_the_same_answer_and_one_effect(
    world: World, api: Api
) -> None:
    first = await api.post("/customers", CUSTOMER, key="create-ada")
    again = await api.post("/customers", CUSTOMER, key="create-ada")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()  # the same generated end_user_id too
    assert "idempotent-replayed" not in first.headers
    assert again.headers["idempotent-replayed"] == "true"
    assert count(world, customers) == 1
    customer = first.json()["id"]
    body = {
        "amount": "25.00",
        "currency": "EUR",
        "success_url": "https://m.test/ok",
        "fail_url": "https://m.test/fail",
    }
    path = f"/customers/{customer}/deposits"
    deposits = [await api.post(path, body, key="deposit-1") for _ in range(3)]
    assert {d.status_code for d in deposits} == {201}
    assert len({d.text for d in deposits}) == 1
    assert count(world, orders) == 1
    assert len(world.emulator.store.orders) == 1  # one Deposit call reached Trustly


async def test_the_same_key_with_another_request_is_a_422(api: Api) -> None:
    first = await api.post("/customers", CUSTOMER, key="k1")
    assert first.status_code == 201
    other_body = await api.post("/customers", {**CUSTOMER, "firstname": "Eve"}, key="k1")
    assert other_body.status_code == 422
    assert "used for a different request" in other_body.json()["error"]
    customer = first.json()["id"]
    other_path = await api.post(
        f"/customers/{customer}/withdrawals", {"amount": "1.00", "currency": "EUR"}, key="k1"
    )
    assert other_path.status_code == 422
    assert "used for a different request" in other_path.json()["error"]


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (None, "the Idempotency-Key header is required on every POST"),
        ("   ", "the Idempotency-Key header is required on every POST"),
        ("x" * 201, "Idempotency-Key is at most 200 printable characters"),
    ],
)
async def test_a_post_without_a_usable_key_is_a_400(
    world: World, api: Api, key: str | None, expected: str
) -> None:
    headers = dict(api.headers)
    if key is not None:
        headers["Idempotency-Key"] = key
    response = await api.client.post("/api/v1/customers", json=CUSTOMER, headers=headers)
    assert response.status_code == 400
    assert expected in response.json()["error"]
    assert count(world, customers) == 0


async def test_a_refusal_is_stored_like_any_answer(world: World, api: Api) -> None:
    customer = (await api.post("/customers", CUSTOMER)).json()["id"]
    path = f"/customers/{customer}/withdrawals"
    body = {"amount": "5.00", "currency": "EUR"}
    refused = await api.post(path, body, key="w1")
    assert refused.status_code == 422
    deposit = await api.post(
        f"/customers/{customer}/deposits",
        {**body, "amount": "10.00", "success_url": "https://m/ok", "fail_url": "https://m/f"},
    )
    await world.complete(deposit.json()["trustly_order_id"])
    again = await api.post(path, body, key="w1")
    assert (again.status_code, again.json()) == (422, refused.json())
    fresh = await api.post(path, body, key="w2")
    assert fresh.status_code == 201


async def test_keys_belong_to_one_api_key(world: World, api: Api) -> None:
    other = create_api_key(world.uow, "other").secret
    mine = await api.post("/customers", CUSTOMER, key="same")
    theirs = await api.client.post(
        "/api/v1/customers",
        json=CUSTOMER,
        headers={"X-API-Key": other, "Idempotency-Key": "same"},
    )
    assert mine.status_code == theirs.status_code == 201
    assert mine.json()["id"] != theirs.json()["id"]


async def test_concurrent_duplicates_make_one_effect(world: World, api: Api) -> None:
    answers = await asyncio.gather(
        *(api.post("/customers", CUSTOMER, key="race") for _ in range(8))
    )
    statuses = [a.status_code for a in answers]
    assert set(statuses) <= {201, 409}, statuses
    assert 201 in statuses
    assert len({a.text for a in answers if a.status_code == 201}) == 1
    for answer in answers:
        if answer.status_code == 409:
            assert "still in progress" in answer.json()["error"]
    assert count(world, customers) == 1
    replay = await api.post("/customers", CUSTOMER, key="race")
    assert replay.status_code == 201


# ------------------------------------------------------------------ claims, stalls, failures


def _customer_effect(
    uow: partial[SqlUnitOfWork], claim: Claim, end_user_id: str, *, final: bool = True
) -> Answer:
    def answer(work: _idempotency.EffectUnitOfWork) -> Answer:
        row = work.customers.by_end_user_id(end_user_id)
        return Answer(201, {"id": row.id})

    register_customer(
        claim.unit_of_work(answer, final=final),
        end_user_id=end_user_id,
        firstname="A",
        lastname="B",
        country="SE",
        locale="sv_SE",
        currency="EUR",
    )
    return claim.result() if final else claim.finish(Answer(500, {"error": "unreachable"}))


@pytest.fixture
def key_id(engine: Engine) -> int:
    return create_api_key(partial(SqlUnitOfWork, engine), "claims").api_key.id


def _customers(engine: Engine) -> list[str]:
    with SqlUnitOfWork(engine) as work:
        return [row.end_user_id for row in work.customers.all()]


def test_an_unfinished_claim_is_busy_until_stale(engine: Engine, key_id: int) -> None:
    first = claim_key(engine, key_id, "k", "hash")
    assert isinstance(first, Claim)
    busy = claim_key(engine, key_id, "k", "hash")
    assert isinstance(busy, Answer)
    assert busy.status_code == 409


def test_a_stalled_request_loses_its_claim_and_its_effect(
    engine: Engine, key_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = partial(SqlUnitOfWork, engine)
    stalled = claim_key(engine, key_id, "k", "hash")
    assert isinstance(stalled, Claim)
    monkeypatch.setattr(_idempotency, "STALE_AFTER", dt.timedelta(0))
    successor = claim_key(engine, key_id, "k", "hash")
    assert isinstance(successor, Claim)
    with pytest.raises(ClaimLostError):
        _customer_effect(uow, stalled, "late")
    assert _customers(engine) == []  # the stalled effect rolled back with its answer
    assert _customer_effect(uow, successor, "on-time").status_code == 201
    assert _customers(engine) == ["on-time"]
    replay = claim_key(engine, key_id, "k", "hash")
    assert isinstance(replay, Answer)
    assert (replay.status_code, replay.replayed) == (201, True)


def test_an_effect_whose_request_died_keeps_its_provisional_answer(
    engine: Engine, key_id: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    uow = partial(SqlUnitOfWork, engine)
    died = claim_key(engine, key_id, "k", "hash")
    assert isinstance(died, Claim)
    register_effect = partial(_customer_effect, uow, died, "once", final=False)
    monkeypatch.setattr(Claim, "finish", lambda self, answer: answer)  # dies before finishing
    register_effect()
    monkeypatch.undo()
    busy = claim_key(engine, key_id, "k", "hash")
    assert isinstance(busy, Answer)
    assert busy.status_code == 409  # not stale yet: maybe still sending
    monkeypatch.setattr(_idempotency, "STALE_AFTER", dt.timedelta(0))
    answer = claim_key(engine, key_id, "k", "hash")
    assert isinstance(answer, Answer)
    assert (answer.status_code, answer.replayed) == (201, True)
    assert _customers(engine) == ["once"]
    late = died.finish(Answer(200, {"late": True}))  # the stalled request cannot overwrite it
    assert late.status_code == 201


def test_an_unexpected_failure_frees_the_key(engine: Engine, key_id: int) -> None:
    def broken(claim: Claim) -> Answer:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        run_idempotent(engine, key_id, "k", "hash", broken)
    retried = run_idempotent(engine, key_id, "k", "hash", lambda claim: Answer(200, {"ok": 1}))
    assert retried.status_code == 200
    replay = run_idempotent(engine, key_id, "k", "hash", lambda claim: Answer(500, {}))
    assert (replay.status_code, replay.body) == (200, b'{"ok":1}')
