"""Operators: suspense items resolved by balanced transfers, frozen wallets found."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fintrust.cli import main
from fintrust.domain.money import Money
from fintrust.services import outbox, payments
from fintrust.services.operations import Resolution, frozen_wallets, resolve_suspense
from tests.e2e.harness import NOTIFY, World
from trustly_emulator._scenarios import Step

pytestmark = pytest.mark.anyio


async def test_a_parked_credit_is_given_to_the_customer_once(world: World) -> None:
    customer = world.customer()
    await world.complete(world.deposit(customer, "20.00"), "deposit-credit-other-amount")
    with world.uow() as work:
        [item] = work.suspense.open_items()
    assert world.balance(customer) == 0
    with pytest.raises(ValueError, match="given to the customer or refunded"):
        resolve_suspense(world.uow, item.id, Resolution.WRITTEN_OFF, "a positive item is no loss")
    resolve_suspense(world.uow, item.id, Resolution.TO_CUSTOMER, "customer confirmed (OPS-1)")
    assert world.balance(customer) == Decimal("10.00")
    with pytest.raises(ValueError, match="resolved already"):
        resolve_suspense(world.uow, item.id, Resolution.TO_CUSTOMER, "again")
    with world.uow() as work:
        assert work.suspense.open_items() == []
        assert work.ledger.verify() == []
        assert work.ledger.balance("liability:suspense", "EUR").posted == Money.of("0.00", "EUR")


async def test_a_wallet_debited_after_a_payout_is_frozen_and_listed(world: World) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "50.00")
    await world.complete(order_id, "D1")
    payments.request_withdrawal(
        world.uow,
        customer_id=customer,
        amount=Money.of("40.00", "EUR"),
        notification_url=NOTIFY,
        shopper_statement="fintrust",
    )
    outbox.drain_outbox(world.uow, world.services.trustly.client)
    await world.emulator.advance(5)  # D1's debit takes the 50.00 back
    [frozen] = frozen_wallets(world.uow)
    assert (frozen.customer_id, frozen.available) == (customer, Money.of("-40.00", "EUR"))
    with pytest.raises(payments.WithdrawalRefusedError, match="frozen"):
        payments.request_withdrawal(
            world.uow,
            customer_id=customer,
            amount=Money.of("1.00", "EUR"),
            notification_url=NOTIFY,
            shopper_statement="fintrust",
        )


def test_the_commands_list_and_resolve(tmp_path: Path) -> None:
    from fintrust.adapters.db.engine import make_engine
    from fintrust.adapters.db.migrate import upgrade
    from fintrust.adapters.db.uow import SqlUnitOfWork

    url = f"sqlite:///{tmp_path / 'ops.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    with SqlUnitOfWork(engine) as work:
        work.suspense.add(
            order_id=None,
            notification_id="n-1",
            amount=-500,
            currency="EUR",
            reason="debited 5.00 EUR for a deposit never credited",
        )
        work.commit()
    engine.dispose()
    runner = CliRunner(env={"COLUMNS": "200"})  # rich wraps tables to the terminal width
    listed = runner.invoke(main, ["suspense", "list", "--database-url", url])
    assert listed.exit_code == 0, listed.output
    assert "-5.00 EUR" in listed.output
    assert "never credited" in listed.output
    refused = runner.invoke(
        main,
        ["suspense", "resolve", "1", "--as", "to-customer", "--note", "x", "--database-url", url],
    )
    assert refused.exit_code == 1
    assert "negative item" in refused.output
    resolved = runner.invoke(
        main,
        [
            "suspense",
            "resolve",
            "1",
            "--as",
            "written-off",
            "--note",
            "OPS-2",
            "--database-url",
            url,
        ],
    )
    assert resolved.exit_code == 0, resolved.output
    assert (
        "No open suspense items."
        in runner.invoke(main, ["suspense", "list", "--database-url", url]).output
    )
    assert (
        "No frozen wallets."
        in runner.invoke(main, ["wallets", "frozen", "--database-url", url]).output
    )
    verify = runner.invoke(main, ["ledger", "verify", "--database-url", url])
    assert verify.exit_code == 0, verify.output


async def test_parked_money_debited_back_by_trustly_closes_its_item(world: World) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "20.00")
    await world.complete(order_id, "deposit-credit-other-amount")
    await world.emulator.advance(1)
    parked = world.emulator.store.orders[order_id]
    world.emulator.plan(parked, [Step(event="debit", amount=Decimal("0.5"))])
    await world.emulator.deliver_due()
    with world.uow() as work:
        assert work.suspense.open_items() == []  # nothing left to decide
        assert work.ledger.balance("liability:suspense", "EUR").posted == Money.of("0.00", "EUR")
        assert work.ledger.verify() == []
    assert world.balance(customer) == 0
