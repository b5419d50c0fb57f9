"""The merchant API: authentication, customers, balances, deposits and withdrawals against the
emulator, orders with their notifications, amounts as strings, and the OpenAPI schema."""

from __future__ import annotations

import pytest

from fintrust.services.api_keys import create_api_key, revoke_api_key
from fintrust.trustly import TransportError
from tests.e2e.harness import World, http
from tests.integration.web.conftest import Api

pytestmark = pytest.mark.anyio

CUSTOMER = {"firstname": "Ada", "lastname": "L", "country": "SE", "locale": "sv_SE"}


# ----------------------------------------------------------------------------- auth


async def test_requests_without_a_valid_key_are_refused(world: World, api: Api) -> None:
    revoked = create_api_key(world.uow, "old")
    assert revoke_api_key(world.uow, revoked.api_key.id)
    client = api.client
    cases = {
        "missing": {},
        "wrong": {"Authorization": "Bearer ftk_not-a-key"},
        "revoked": {"Authorization": f"Bearer {revoked.secret}"},
        "not bearer": {"Authorization": "Basic dXNlcjpwYXNz"},
        "wrong header key": {"X-API-Key": "nope"},
    }
    messages = {}
    for case, headers in cases.items():
        response = await client.get("/api/v1/customers/1", headers=headers)
        assert response.status_code == 401, case
        assert response.headers["www-authenticate"].startswith("Bearer")
        messages[case] = response.json()["error"]
        assert revoked.secret not in response.text
        assert "ftk_not-a-key" not in response.text
    assert "missing API key" in messages["missing"]
    assert "Authorization: Bearer" in messages["missing"]
    assert messages["wrong"] == "invalid API key"
    assert "revoked" in messages["revoked"]
    assert "not a Bearer key" in messages["not bearer"]
    # POSTs too, and before anything else is checked
    response = await client.post("/api/v1/customers", json={})
    assert response.status_code == 401


async def test_a_valid_key_works_as_bearer_or_x_api_key(world: World, api_key: str) -> None:
    async with http(world.app) as client:
        for headers in ({"Authorization": f"Bearer {api_key}"}, {"X-API-Key": api_key}):
            response = await client.get("/api/v1/customers/999", headers=headers)
            assert response.status_code == 404
            assert response.json() == {"error": "no customer 999"}


async def test_api_keys_are_stored_only_as_hashes(world: World, api_key: str) -> None:
    from sqlalchemy import select

    from fintrust.adapters.db.schema import api_keys
    from fintrust.services.api_keys import hash_key

    with world.uow() as work:
        rows = work.connection.execute(select(api_keys)).all()
    assert [row.key_hash for row in rows] == [hash_key(api_key)]
    assert all(api_key not in str(tuple(row)) for row in rows)
    assert api_key.startswith("ftk_")


# ----------------------------------------------------------------------------- customers


async def test_register_and_read_a_customer(api: Api) -> None:
    created = await api.customer(email="asa@example.com", national_id="19800101-1234")
    assert created["end_user_id"].startswith("cust-")
    assert created["name"] == "Åsa Öberg"
    assert created["email"] == "asa@example.com"
    fetched = await api.get(f"/customers/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created
    balances = await api.get(f"/customers/{created['id']}/balances")
    assert balances.json() == {
        "customer_id": created["id"],
        "balances": [{"currency": "EUR", "posted": "0.00", "available": "0.00", "frozen": False}],
    }
    orders = await api.get(f"/customers/{created['id']}/orders")
    assert orders.json() == {"orders": []}
    for path in ("/customers/999", "/customers/999/balances", "/customers/999/orders"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json() == {"error": "no customer 999"}


async def test_end_user_ids_are_kept_unique(api: Api) -> None:
    first = await api.customer(end_user_id="user-42")
    assert first["end_user_id"] == "user-42"
    again = await api.post("/customers", {**CUSTOMER, "currency": "EUR", "end_user_id": "user-42"})
    assert again.status_code == 409
    assert again.json() == {"error": f"end_user_id user-42 is customer {first['id']} already"}
    other = await api.customer()
    assert other["end_user_id"] != first["end_user_id"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"country": "Sweden"}, "country: String should match pattern"),
        ({"currency": "eur"}, "currency: String should match pattern"),
        ({"firstname": ""}, "firstname: String should have at least 1 character"),
        ({"email": "not-an-email"}, "email: String should match pattern"),
        ({"nickname": "x"}, "nickname: Extra inputs are not permitted"),
    ],
)
async def test_invalid_customers_are_refused_with_a_clear_message(
    api: Api, change: dict[str, str], expected: str
) -> None:
    response = await api.post("/customers", {**CUSTOMER, "currency": "EUR", **change})
    assert response.status_code == 422
    assert expected in response.json()["error"]
    assert set(response.json()) == {"error"}


# ----------------------------------------------------------------------------- money


async def test_a_deposit_answers_the_checkout_url_and_credits_after_the_checkout(
    world: World, api: Api
) -> None:
    customer = await api.customer()
    response = await api.deposit(customer["id"], "100.00")
    assert response.status_code == 201, response.text
    order = response.json()
    trustly_order = world.emulator.store.orders[order["trustly_order_id"]]
    assert order["url"] == world.emulator.checkout_url(trustly_order)
    assert order["url"].startswith("http://emulator.test/")
    assert (order["state"], order["amount"], order["currency"]) == ("started", "100.00", "EUR")
    await world.complete(order["trustly_order_id"])
    balances = (await api.get(f"/customers/{customer['id']}/balances")).json()["balances"]
    assert balances == [
        {"currency": "EUR", "posted": "100.00", "available": "100.00", "frozen": False}
    ]
    detail = (await api.get(f"/orders/{order['id']}")).json()
    assert detail["state"] == "credited"
    assert detail["credited"] == "100.00"
    methods = {n["method"] for n in detail["notifications"]}
    assert {"account", "pending", "credit"} <= methods
    assert {n["reply_status"] for n in detail["notifications"]} == {"OK"}
    assert all(n["received_at"] and n["outcome"] for n in detail["notifications"])
    listed = (await api.get(f"/customers/{customer['id']}/orders")).json()["orders"]
    assert [o["id"] for o in listed] == [order["id"]]
    assert (await api.get("/orders/999")).json() == {"error": "no order 999"}


async def test_a_refused_deposit_is_a_502_with_trustlys_error(api: Api) -> None:
    customer = await api.customer()
    response = await api.deposit(customer["id"], "100", currency="JPY")  # not at Trustly
    assert response.status_code == 502
    body = response.json()
    assert "Trustly refused the deposit" in body["error"]
    assert "ERROR_INVALID_CURRENCY_CODE" in body["error"]
    assert body["order"]["state"] == "failed"
    assert "demo-password" not in response.text


async def test_a_deposit_with_an_unknown_outcome_is_a_202(
    world: World, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = await api.customer()

    def timeout(*args: object, **kwargs: object) -> object:
        raise TransportError("read timed out")

    monkeypatch.setattr(world.services.trustly.client, "send", timeout)
    response = await api.deposit(customer["id"], "10.00")
    assert response.status_code == 202
    assert response.json()["state"] == "created"
    assert response.json()["url"] is None
    with world.uow() as work:
        assert work.outbox.counts() == {"pending": 1}  # the worker re-sends it


async def test_withdrawals_are_reserved_or_refused(world: World, api: Api) -> None:
    customer = await api.customer()
    path = f"/customers/{customer['id']}/withdrawals"
    no_account = await api.post(path, {"amount": "1.00", "currency": "EUR"})
    assert no_account.status_code == 422
    assert "no verified bank account" in no_account.json()["error"]
    deposit = (await api.deposit(customer["id"], "50.00")).json()
    await world.complete(deposit["trustly_order_id"])
    too_much = await api.post(path, {"amount": "50.01", "currency": "EUR"})
    assert too_much.status_code == 422
    assert too_much.json() == {
        "error": "withdrawal refused: only 50.00 EUR is available to withdraw"
    }
    response = await api.post(path, {"amount": "20.00", "currency": "EUR"})
    assert response.status_code == 201
    payout = response.json()
    assert (payout["kind"], payout["state"], payout["amount"]) == ("payout", "requested", "20.00")
    balances = (await api.get(f"/customers/{customer['id']}/balances")).json()["balances"]
    assert balances == [
        {"currency": "EUR", "posted": "50.00", "available": "30.00", "frozen": False}
    ]
    missing = await api.post("/customers/999/withdrawals", {"amount": "1.00", "currency": "EUR"})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        (10.5, "EUR", 'amounts are decimal strings such as "100.00", never JSON numbers'),
        (10, "EUR", "never JSON numbers"),
        ("10.001", "EUR", "amount 10.001 does not fit EUR (2 decimals); not rounded"),
        ("10.5", "JPY", "amount 10.5 does not fit JPY (0 decimals)"),
        ("0", "EUR", "amount must be greater than zero"),
        ("-5.00", "EUR", "amount must be greater than zero"),
        ("1e3", "EUR", "not a decimal amount"),
        ("10.00", "XX", "currency: String should match pattern"),
        ("10000000000000", "EUR", "amount too large: at most 13 digits before the point"),
    ],
)
async def test_amounts_must_be_exact_decimal_strings(
    api: Api, amount: object, currency: str, expected: str
) -> None:
    customer = await api.customer()
    for path in ("deposits", "withdrawals"):
        body = {"amount": amount, "currency": currency}
        if path == "deposits":
            body |= {"success_url": "https://m.test/ok", "fail_url": "https://m.test/fail"}
        response = await api.post(f"/customers/{customer['id']}/{path}", body)
        assert response.status_code == 422, response.text
        assert expected in response.json()["error"]
    orders = (await api.get(f"/customers/{customer['id']}/orders")).json()
    assert orders == {"orders": []}


async def test_ids_beyond_the_database_s_integers_are_refused_not_looked_up(api: Api) -> None:
    # Found by tests/integration/web/test_api_schema.py: PostgreSQL refused to compare them (500).
    for path in ("/customers/2147483648", "/customers/2147483648/orders", "/orders/10669225067718"):
        response = await api.get(path)
        assert response.status_code == 422, (path, response.text)
    deposit = {"amount": "1.00", "currency": "EUR", "success_url": "https://m.test/ok"}
    response = await api.post(
        "/customers/2147483648/deposits", deposit | {"fail_url": deposit["success_url"]}
    )
    assert response.status_code == 422, response.text
    assert (await api.get("/customers/2147483647")).status_code == 404  # the largest id is asked


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("firstname", "Ada\u0000"),
        ("lastname", "L\nL"),
        ("national_id", "19900101\u0007"),
        ("end_user_id", "cust\u0000-1"),
        ("email", "ada\u0000@m.test"),
    ],
)
async def test_control_characters_are_refused(api: Api, field: str, value: str) -> None:
    # PostgreSQL text cannot hold NUL: a NUL in a name was a 500 (found by test_api_schema.py).
    response = await api.post("/customers", {**CUSTOMER, "currency": "EUR", field: value})
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]


async def test_orders_are_listed_by_a_known_kind_only(api: Api) -> None:
    customer = await api.customer()
    assert (await api.get(f"/customers/{customer['id']}/orders?kind=deposit")).status_code == 200
    assert (await api.get(f"/customers/{customer['id']}/orders?kind=%00")).status_code == 422


async def test_oversized_bodies_are_refused(api: Api) -> None:
    response = await api.post("/customers", {**CUSTOMER, "currency": "EUR", "x": "y" * 20_000})
    assert response.status_code == 413
    assert response.json() == {"error": "request bodies are limited to 16384 bytes"}


# ----------------------------------------------------------------------------- schema


async def test_the_openapi_schema_lists_the_endpoints(world: World) -> None:
    async with http(world.app) as client:
        schema = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200
    paths = schema["paths"]
    expected = {
        "/api/v1/customers": {"post"},
        "/api/v1/customers/{customer_id}": {"get"},
        "/api/v1/customers/{customer_id}/balances": {"get"},
        "/api/v1/customers/{customer_id}/orders": {"get"},
        "/api/v1/customers/{customer_id}/deposits": {"post"},
        "/api/v1/customers/{customer_id}/withdrawals": {"post"},
        "/api/v1/orders/{order_id}": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths[path]) == methods, path
    schemes = schema["components"]["securitySchemes"]
    assert {s["type"] for s in schemes.values()} == {"http", "apiKey"}
    deposit = paths["/api/v1/customers/{customer_id}/deposits"]["post"]
    assert "Idempotency-Key" in {p["name"] for p in deposit["parameters"]}
    assert {"201", "202", "401", "422", "502"} <= set(deposit["responses"])
    models = schema["components"]["schemas"]
    assert models["DepositIn"]["properties"]["amount"]["type"] == "string"
    assert models["BalanceOut"]["properties"]["posted"]["type"] == "string"
