"""The worker: its rounds send the outbox, poll payouts and reconcile; it stops on its event."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Engine, create_engine

from fintrust.domain.money import Money
from fintrust.services import payments
from fintrust.web import Services
from fintrust.worker import Worker, run_worker
from tests.e2e.harness import NOTIFY, World, build_world

pytestmark = pytest.mark.anyio

JOBS = ("outbox", "payouts", "reconcile")


def with_settings(world: World, **changes: object) -> Services:
    settings = world.services.settings.model_copy(update=changes)
    return Services(settings, world.services.engine, world.services.trustly)


def start_deposit(world: World, customer: int, amount: str) -> int:
    return payments.start_deposit(
        world.uow,
        customer_id=customer,
        amount=Money.of(amount, "EUR"),
        notification_url=NOTIFY,
        success_url="http://merchant.test/ok",
        fail_url="http://merchant.test/fail",
        shopper_statement="fintrust",
    ).order_id


def withdraw(world: World, customer: int, amount: str) -> int:
    return payments.request_withdrawal(
        world.uow,
        customer_id=customer,
        amount=Money.of(amount, "EUR"),
        notification_url=NOTIFY,
        shopper_statement="fintrust",
    )


def test_the_worker_drains_the_outbox_and_stops_on_its_event(world: World) -> None:
    customer = world.customer()
    orders = [start_deposit(world, customer, f"{n}.00") for n in (10, 20, 30)]
    stop = threading.Event()
    thread = threading.Thread(
        target=run_worker, args=(world.services, stop), kwargs={"poll_seconds": 0.05}
    )
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with world.uow() as work:
                if work.outbox.counts() == {"done": 3}:
                    break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    with world.uow() as work:
        assert work.outbox.counts() == {"done": 3}
        started = [work.orders.get(order_id) for order_id in orders]
    assert all(o is not None and o.state == "started" and o.trustly_order_id for o in started)
    assert all(o is not None and o.trustly_order_id in world.emulator.store.orders for o in started)


def test_a_set_event_stops_the_worker_after_at_most_one_round(world: World) -> None:
    stop = threading.Event()
    stop.set()
    begun = time.monotonic()
    run_worker(world.services, stop, poll_seconds=60)
    assert time.monotonic() - begun < 30  # never waited the 60 seconds


def test_a_round_reconciles_our_books_with_trustlys_balance(world: World) -> None:
    report = Worker(world.services).run_once()
    assert report.errors == []
    assert report.reconciliation is not None
    assert report.reconciliation.differences == {}
    # The next round reconciles only when the interval has passed.
    assert Worker(world.services).run_once().reconciliation is not None
    worker = Worker(world.services)
    worker.run_once()
    assert worker.run_once().reconciliation is None


def test_a_round_counts_its_jobs_and_the_reconciliation_for_prometheus(world: World) -> None:
    def jobs(job: str, result: str) -> float:
        return (
            REGISTRY.get_sample_value("fintrust_worker_jobs_total", {"job": job, "result": result})
            or 0.0
        )

    before = {(job, result): jobs(job, result) for job in JOBS for result in ("ok", "failed")}
    started = time.time()
    Worker(world.services).run_once()
    assert {key: jobs(*key) - value for key, value in before.items()} == {
        **{(job, "ok"): 1.0 for job in JOBS},
        **{(job, "failed"): 0.0 for job in JOBS},
    }
    assert REGISTRY.get_sample_value("fintrust_reconciliation_differences") == 0
    finished = REGISTRY.get_sample_value("fintrust_reconciliation_last_run_timestamp_seconds")
    assert finished is not None
    assert finished >= started

    broken = Services(
        world.services.settings,
        create_engine("sqlite:///file:gone?mode=ro&uri=true"),  # no such database
        world.services.trustly,
    )
    report = Worker(broken).run_once()
    assert len(report.errors) == 3
    for job in JOBS:
        assert jobs(job, "failed") - before[(job, "failed")] == 1


@pytest.fixture
def quiet_world(engine: Engine, tmp_path: Path) -> Iterator[World]:
    """A merchant with only the account notification on: no payoutconfirmation."""
    created = build_world(engine, tmp_path, notifications=frozenset({"account"}))
    yield created
    created.close()


async def test_without_confirmations_the_poll_posts_an_executed_payout(quiet_world: World) -> None:
    world = quiet_world
    services = with_settings(
        world, payoutconfirmation_enabled=False, payout_poll_interval_seconds=0
    )
    customer = world.customer()
    await world.complete(world.deposit(customer, "100.00"))
    assert world.balance(customer) == Decimal("100.00")
    payout = withdraw(world, customer, "40.00")
    worker = Worker(services)

    first = worker.run_once()  # sends the AccountPayout; Trustly still executing it
    assert first.sent == {"done": 1}
    assert first.payouts_posted == 0
    assert world.available(customer) == Decimal("60.00")
    assert world.balance(customer) == Decimal("100.00")

    await world.emulator.advance(60)  # executed at Trustly; no notification is sent
    with world.uow() as work:
        order = work.orders.get(payout)
        assert order is not None
        assert order.state == "sent"
    second = worker.run_once()
    assert second.payouts_posted == 1
    assert world.balance(customer) == Decimal("60.00")
    with world.uow() as work:
        order = work.orders.get(payout)
        assert order is not None
        assert order.state == "confirmed"
        assert work.ledger.verify() == []
    assert worker.run_once().payouts_posted == 0  # posted once only


async def test_with_confirmations_on_the_poll_leaves_posting_to_the_notification(
    world: World,
) -> None:
    services = with_settings(world, payout_poll_interval_seconds=0)
    customer = world.customer()
    await world.complete(world.deposit(customer, "50.00"))
    payout = withdraw(world, customer, "20.00")
    worker = Worker(services)
    assert worker.run_once().sent == {"done": 1}
    with world.uow() as work:
        order = work.orders.get(payout)
        assert order is not None
        trustly_id = order.trustly_order_id
    world.emulator.store.orders[trustly_id].transfer_state = "CONFIRMED"
    assert worker.run_once().payouts_posted == 0  # payoutconfirmation will post it
    await world.emulator.advance(60)
    assert world.balance(customer) == Decimal("30.00")
