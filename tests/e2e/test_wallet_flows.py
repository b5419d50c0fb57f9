"""The trading wallet end to end: the merchant app against the real emulator."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fintrust.domain.money import Money
from fintrust.services import outbox, payments
from tests.e2e.harness import NOTIFY, World

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    "scenario",
    [
        "deposit-ok",
        "deposit-ok-pending-credit-account",
        "deposit-ok-account-pending-credit",
        "deposit-ok-account-credit-pending",
        "deposit-ok-credit-pending-account",
        "deposit-ok-credit-account-pending",
        "deposit-duplicates",
        "deposit-reply-lost",
    ],
)
async def test_a_deposit_credits_once_in_any_arrival_order(world: World, scenario: str) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "100.00")
    assert world.balance(customer) == 0
    await world.complete(order_id, scenario)
    await world.emulator.advance(3600)
    assert world.balance(customer) == Decimal("100.00")
    assert world.emulator.store.balance(world.services.settings.trustly_username, "EUR") == Decimal(
        "100.00"
    )
    records = world.emulator.store.notifications_of(order_id)
    assert all(r.state == "delivered" for r in records)


async def test_d1_credit_then_debit_leaves_nothing(world: World) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "50.00")
    await world.complete(order_id, "D1")
    assert world.balance(customer) == Decimal("50.00")
    await world.emulator.advance(5)
    assert world.balance(customer) == 0


async def test_pending_then_cancel_and_other_amount(world: World) -> None:
    customer = world.customer()
    cancelled = world.deposit(customer, "20.00")
    await world.complete(cancelled, "deposit-pending-then-cancel")
    await world.emulator.advance(3600)
    other = world.deposit(customer, "20.00")
    await world.complete(other, "deposit-credit-other-amount")
    assert world.balance(customer) == 0
    with world.uow() as work:
        [item] = work.suspense.open_items()
    assert (item.amount, item.currency) == (1000, "EUR")


async def test_withdraw_ok_is_posted_on_payoutconfirmation(world: World) -> None:
    customer = world.customer()
    await world.complete(world.deposit(customer, "100.00"))
    payout = payments.request_withdrawal(
        world.uow,
        customer_id=customer,
        amount=Money.of("30.00", "EUR"),
        notification_url=NOTIFY,
        shopper_statement="fintrust",
    )
    assert world.available(customer) == Decimal("70.00")
    assert world.balance(customer) == Decimal("100.00")
    assert outbox.drain_outbox(world.uow, world.services.trustly.client) == {"done": 1}
    await world.emulator.advance(60)
    assert world.balance(customer) == Decimal("70.00")
    with world.uow() as work:
        order = work.orders.get(payout)
        assert order is not None
        assert order.state == "confirmed"
        assert work.ledger.verify() == []
    assert world.emulator.store.balance(world.services.settings.trustly_username, "EUR") == Decimal(
        "70.00"
    )


async def test_withdrawals_beyond_the_balance_or_without_an_account_are_refused(
    world: World,
) -> None:
    customer = world.customer()
    with pytest.raises(payments.WithdrawalRefusedError, match="no verified bank account"):
        payments.request_withdrawal(
            world.uow,
            customer_id=customer,
            amount=Money.of("1.00", "EUR"),
            notification_url=NOTIFY,
            shopper_statement="x",
        )
    await world.complete(world.deposit(customer, "10.00"))
    with pytest.raises(payments.WithdrawalRefusedError, match="available"):
        payments.request_withdrawal(
            world.uow,
            customer_id=customer,
            amount=Money.of("10.01", "EUR"),
            notification_url=NOTIFY,
            shopper_statement="x",
        )


async def test_select_account_and_register_account_store_payout_destinations(world: World) -> None:
    from fintrust.services import accounts

    customer = world.customer("cust-accounts")
    order_id, _ = accounts.start_select_account(
        world.uow,
        customer_id=customer,
        notification_url=NOTIFY,
        success_url="http://m/ok",
        fail_url="http://m/fail",
    )
    outbox.drain_outbox(world.uow, world.services.trustly.client)
    with world.uow() as work:
        order = work.orders.get(order_id)
        assert order is not None
        assert order.state == "started"
    await world.complete(str(order.trustly_order_id))
    with world.uow() as work:
        selected = work.bank_accounts.of_customer(customer)
        assert [a.source for a in selected] == ["notification"]
        assert work.orders.get(order_id).state == "selected"  # type: ignore[union-attr]
    account_id = accounts.register_bank_account(
        world.uow,
        world.services.trustly.client,
        customer_id=customer,
        clearing_house="SWEDEN",
        bank_number="6112",
        account_number="69706212",
    )
    again = accounts.register_bank_account(
        world.uow,
        world.services.trustly.client,
        customer_id=customer,
        clearing_house="SWEDEN",
        bank_number="6112",
        account_number="69706212",
    )
    assert account_id == again
    with world.uow() as work:
        sources = sorted(a.source for a in work.bank_accounts.of_customer(customer))
    assert sources == ["notification", "register"]


async def test_withdrawals_pay_back_to_the_account_deposited_from(world: World) -> None:
    from fintrust.services import accounts

    customer = world.customer("cust-closed-loop")
    order_id = world.deposit(customer, "40.00")
    await world.complete(order_id)
    deposited_from = world.emulator.store.orders[order_id].account_id
    registered = accounts.register_bank_account(  # newer, but never paid from
        world.uow,
        world.services.trustly.client,
        customer_id=customer,
        clearing_house="SWEDEN",
        bank_number="6112",
        account_number="69706299",
    )
    assert registered != deposited_from
    payout = payments.request_withdrawal(
        world.uow,
        customer_id=customer,
        amount=Money.of("10.00", "EUR"),
        notification_url=NOTIFY,
        shopper_statement="fintrust",
    )
    with world.uow() as work:
        order = work.orders.get(payout)
        assert order is not None
        assert order.account_id == deposited_from
    assert outbox.drain_outbox(world.uow, world.services.trustly.client) == {"done": 1}
    second = world.deposit(customer, "5.00")  # Trustly Express: the same account pre-selected
    assert world.emulator.store.orders[second].attributes["AccountID"] == deposited_from


async def test_reconciliation_finds_movements_of_orders_we_do_not_know(world: World) -> None:
    customer = world.customer()
    await world.complete(world.deposit(customer, "25.00"))
    clean = outbox.reconcile(world.uow, world.services.trustly.client, ledger_days=400)
    assert clean.ok, (clean.differences, clean.unknown_movements)
    stranger = world.emulator.adopt_order(
        merchant=world.services.settings.trustly_username,
        method="Deposit",
        order_id="5555555555",
        message_id="not-ours",
        end_user_id="someone",
        notification_url=NOTIFY,
        amount=Decimal("7.00"),
        currency="EUR",
    )
    world.emulator.complete_checkout(stranger)
    await world.emulator.deliver_due()  # our app refuses them: it knows no such order
    report = outbox.reconcile(world.uow, world.services.trustly.client, ledger_days=400)
    assert not report.ok
    assert report.differences == {"EUR": Money.of("7.00", "EUR")}
    assert [(o, m) for o, m, _, _ in report.unknown_movements] == [("5555555555", "not-ours")]
