"""Money going out: AccountPayout, Refund and the Withdraw decision."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from trustly_emulator._events import book
from trustly_emulator._scenarios import Scenario, Step, default_scenario, scenario
from trustly_emulator._state import Order

if TYPE_CHECKING:
    from trustly_emulator._emulator import Emulator

__all__ = ["decide_withdrawal", "payout_scenario", "start_payout", "start_refund"]


def start_payout(emulator: Emulator, order: Order) -> None:
    """AccountPayout accepted: the money leaves the merchant's balance and the scenario runs."""
    assert order.amount is not None
    assert order.currency is not None
    if emulator.store.balance(order.merchant, order.currency) < order.amount:
        # No credit at Trustly: the payout is accepted, then fails and is credited back.
        order.scenario = "payout-failed"
        order.transfer_state = "FAILED"
        emulator.plan(
            order,
            [
                Step(event="payoutfailed", after=30, error="insufficient_funds"),
                Step(event="credit"),
            ],
        )
        return
    order.paid_out = True
    order.transfer_state = "EXECUTING"
    book(emulator.store, order, -order.amount, order.method, emulator.clock.now())
    selected = payout_scenario(emulator, order)
    order.scenario = selected.id
    emulator.plan(order, selected.steps)


def payout_scenario(emulator: Emulator, order: Order) -> Scenario:
    """The default payout scenario, unless a rule picked another for this merchant/user."""
    for rule in emulator.payout_rules:
        if rule.get("merchant") in (None, order.merchant) and rule.get("enduserid") in (
            None, order.end_user_id,
        ):  # fmt: skip
            return scenario(str(rule["scenario"]))
    return default_scenario("AccountPayout")


def start_refund(emulator: Emulator, deposit: Order, amount: Decimal) -> Order:
    """A Refund of a settled deposit: its own order, reported to the deposit's URL."""
    refund = Order(
        order_id=emulator.store.new_id(),
        merchant=deposit.merchant,
        method="Refund",
        message_id=deposit.message_id,
        end_user_id=deposit.end_user_id,
        notification_url=deposit.notification_url,
        currency=deposit.currency,
        amount=amount,
        attributes={},
        created_at=emulator.clock.now(),
        session_id="",
        account_id=deposit.account_id,
        parent_order_id=deposit.order_id,
        paid_out=True,
        transfer_state="EXECUTING",
    )
    emulator.add_order(refund)
    deposit.refunded += amount
    book(emulator.store, refund, -amount, "Refund", emulator.clock.now())
    emulator.plan(refund, default_scenario("Refund").steps)
    return refund


def decide_withdrawal(emulator: Emulator, order: Order, *, approve: bool) -> bool:
    """ApproveWithdrawal / DenyWithdrawal; False when the withdrawal awaits no decision."""
    if order.state != "awaiting approval":
        return False
    assert order.amount is not None
    if approve:
        order.paid_out = True
        order.transfer_state = "EXECUTED"
        book(emulator.store, order, -order.amount, "Withdraw", emulator.clock.now())
        order.state = "approved"
        emulator.plan(order, [Step(event="payoutconfirmation", after=60)])
    else:
        order.state = "denied"
        emulator.plan(order, [Step(event="cancel"), Step(event="credit")])
    return True
