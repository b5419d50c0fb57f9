"""The emulator's acceptance runner against the merchant app, both in this process: every
scenario of the catalogue and both built-in probes, with their effects read through the
acceptance hook."""

from __future__ import annotations

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from fintrust.domain.ledger import TRUSTLY, totals_balance
from fintrust.web import Services, create_app
from tests.e2e.harness import NOTIFY, USERNAME, World
from trustly_emulator.acceptance import AcceptanceConfig, available_checks, run_acceptance

pytestmark = pytest.mark.anyio

HOOK = "http://merchant.test/_acceptance"
# The merchant starts Deposits, SelectAccounts and AccountPayouts; Withdraw (legacy, no longer
# offered by Trustly) is answered 501.
NOT_DONE_BY_FINTRUST = {"withdraw-ok", "withdraw-denied"}


def app_with_hook(world: World) -> FastAPI:
    settings = world.services.settings.model_copy(update={"acceptance_hook": True})
    services = Services(settings, world.services.engine, world.services.trustly)
    return create_app(services)


def merchant_public_pem(world: World) -> str:
    return world.services.trustly.signer.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


async def test_every_scenario_passes_against_the_app(world: World) -> None:
    app = app_with_hook(world)
    config = AcceptanceConfig(
        notification_url=NOTIFY,
        hook_url=HOOK,
        keys=world.emulator.keys,  # the identity the merchant trusts
        merchant_public_key_pem=merchant_public_pem(world),
        merchant_username=USERNAME,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=30) as http:
        report = await run_acceptance(config, http_client=http)
    outcome = {result.id: result.status for result in report.results}
    failures = {
        result.id: [
            (check.name, check.expected, check.actual) for check in result.checks if not check.ok
        ]
        or result.reason
        for result in report.results
        if result.status == "FAIL"
    }
    assert failures == {}
    assert set(outcome) == {check_id for check_id, _ in available_checks()}
    assert {i for i, status in outcome.items() if status == "SKIPPED"} == NOT_DONE_BY_FINTRUST
    assert report.ok
    with world.uow() as work:
        assert work.ledger.verify() == []
        accounts = work.ledger.accounts()
    assert totals_balance(accounts)
    assert any(a.code == TRUSTLY for a in accounts)


async def test_the_hook_is_not_served_unless_turned_on(world: World) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=world.app), base_url="http://merchant.test"
    ) as http:
        response = await http.post(
            "/_acceptance/orders", json={"kind": "Deposit", "amount": "1.00", "currency": "EUR"}
        )
        assert response.status_code == 404
        assert (await http.get("/_acceptance/state?enduserid=x&currency=EUR")).status_code == 404


async def test_the_hook_answers_the_contract(world: World) -> None:
    app = app_with_hook(world)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://merchant.test"
    ) as http:
        deposit = (
            await http.post(
                "/_acceptance/orders",
                json={"kind": "Deposit", "amount": "12.50", "currency": "EUR", "scenario": "x"},
            )
        ).json()
        assert deposit["orderid"] in world.emulator.store.orders
        assert (deposit["amount"], deposit["currency"]) == ("12.50", "EUR")
        state = await http.get(
            "/_acceptance/state", params={"enduserid": deposit["enduserid"], "currency": "EUR"}
        )
        assert state.json() == {"balance": "0.00", "accounts": [], "suspense": "0.00"}

        payout = (
            await http.post(
                "/_acceptance/orders",
                json={"kind": "AccountPayout", "amount": "7.00", "currency": "SEK"},
            )
        ).json()
        emulated = world.emulator.store.orders[payout["orderid"]]
        assert emulated.method == "AccountPayout"
        state = await http.get(
            "/_acceptance/state", params={"enduserid": payout["enduserid"], "currency": "SEK"}
        )
        body = state.json()
        assert body["balance"] == "0.00"  # the 7.00 seeded is reserved for the payout
        assert body["accounts"] == [emulated.account_id]

        other = await http.post(
            "/_acceptance/orders",
            json={"kind": "Withdraw", "amount": "1.00", "currency": "EUR"},
        )
        assert other.status_code == 501
        assert "reason" in other.json()
        unknown = await http.get("/_acceptance/state?enduserid=nobody&currency=EUR")
        assert unknown.status_code == 404
