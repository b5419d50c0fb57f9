"""``GET /metrics``: what the app did, and what waits in the database, as Prometheus reads it."""

from __future__ import annotations

import dataclasses

import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from fintrust.domain.money import Money
from fintrust.services import outbox, payments
from tests.e2e.harness import NOTIFY, World, http

pytestmark = pytest.mark.anyio


async def scrape(
    world: World, **headers: str
) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    async with http(world.app) as client:
        response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def withdraw(world: World, customer: int, amount: str) -> None:
    payments.request_withdrawal(
        world.uow,
        customer_id=customer,
        amount=Money.of(amount, "EUR"),
        notification_url=NOTIFY,
        shopper_statement="fintrust",
    )


async def test_notifications_and_calls_are_counted(world: World) -> None:
    # The counters belong to the process (other tests add to them): compare before and after.
    before = await scrape(world)
    customer = world.customer()
    await world.complete(world.deposit(customer, "20.00"))
    after = await scrape(world)

    def added(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    for method in ("pending", "credit", "account"):
        assert added("fintrust_notifications_total", method=method, result="accepted") == 1
    assert added("fintrust_notification_seconds_count") == 3
    assert added("fintrust_notification_batch_size_count") >= 1
    assert added("fintrust_trustly_calls_total", method="Deposit", outcome="done") == 1
    assert added("fintrust_notification_batch_fallbacks_total") == 0


async def test_what_waits_is_read_from_the_database(world: World) -> None:
    empty = await scrape(world)
    assert value(empty, "fintrust_outbox_oldest_call_waiting_seconds") == 0
    assert value(empty, "fintrust_payouts_in_flight") == 0
    customer = world.customer()
    await world.complete(world.deposit(customer, "50.00"), "D1")
    other = world.customer("cust-2")
    await world.complete(world.deposit(other, "20.00"), "deposit-credit-other-amount")
    withdraw(world, customer, "40.00")  # written to the outbox, not sent yet
    waiting = await scrape(world)
    assert value(waiting, "fintrust_outbox_calls_waiting", method="AccountPayout", attempt="new")
    assert value(waiting, "fintrust_outbox_oldest_call_waiting_seconds") >= 0
    assert value(waiting, "fintrust_payouts_in_flight") == 1
    assert value(waiting, "fintrust_suspense_open_items") == 1
    assert value(waiting, "fintrust_wallets_frozen") == 0

    outbox.drain_outbox(world.uow, world.services.trustly.client)
    await world.emulator.advance(5)  # D1's debit takes the 50.00 back after the payout
    frozen = await scrape(world)
    assert (
        value(frozen, "fintrust_outbox_calls_waiting", method="AccountPayout", attempt="new") == 0
    )
    assert value(frozen, "fintrust_wallets_frozen") == 1


async def test_a_metrics_token_is_required_when_set(world: World) -> None:
    settings = world.services.settings.model_copy(update={"metrics_token": SecretStr("s3cret")})
    world.app.state.services = dataclasses.replace(world.services, settings=settings)
    async with http(world.app) as client:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            refused = await client.get("/metrics", headers=headers)
            assert refused.status_code == 401
            assert "s3cret" not in refused.text
            assert "FINTRUST_METRICS_TOKEN" in refused.text
    samples = await scrape(world, Authorization="Bearer s3cret")
    assert ("fintrust_payouts_in_flight", frozenset()) in samples
