"""Deposit and payout state machines: every notification, in any order, any number of times."""

from __future__ import annotations

from itertools import permutations

import pytest

from fintrust.domain import deposits, payouts
from fintrust.domain.deposits import DepositOrder, DepositState
from fintrust.domain.money import Money
from fintrust.domain.payouts import PayoutOrder, PayoutState


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def deposit(amount: str | None = "10.00") -> DepositOrder:
    return DepositOrder(1, 7, "m-1", "EUR", eur(amount) if amount else None, DepositState.STARTED)


@pytest.mark.parametrize("arrival", list(permutations(["pending", "credit"])))
def test_pending_and_credit_in_any_order_credit_once(arrival: tuple[str, ...]) -> None:
    order, effects = deposit(), []
    for method in arrival:
        if method == "pending":
            order, new = deposits.on_pending(order)
        else:
            order, new = deposits.on_credit(order, eur("10.00"))
        effects += new
    assert effects == [deposits.CreditCustomer(eur("10.00"))]
    assert order.state is DepositState.CREDITED


def test_a_credit_of_another_amount_or_currency_is_parked() -> None:
    order, effects = deposits.on_credit(deposit(), eur("5.00"))
    assert order.state is DepositState.REVIEW
    assert effects == [
        deposits.ParkInSuspense(eur("5.00"), "credited 5.00 EUR, the order asked for 10.00 EUR")
    ]
    _, effects = deposits.on_credit(deposit(), Money.of("10.00", "SEK"))
    assert isinstance(effects[0], deposits.ParkInSuspense)
    order, effects = deposits.on_credit(deposit(None), eur("42.00"))  # customer chose it
    assert effects == [deposits.CreditCustomer(eur("42.00"))]


def test_debit_after_credit_takes_it_back_and_a_second_credit_is_parked() -> None:
    order, _ = deposits.on_credit(deposit(), eur("10.00"))
    _, effects = deposits.on_credit(order, eur("10.00"))
    assert isinstance(effects[0], deposits.ParkInSuspense)
    order, effects = deposits.on_debit(order, eur("10.00"))
    assert effects == [deposits.ReverseCredit(eur("10.00"))]
    assert order.state is DepositState.REVERSED
    _, effects = deposits.on_debit(order, eur("10.00"))  # nothing left to take back
    assert isinstance(effects[0], deposits.ParkInSuspense)
    assert effects[0].amount == eur("-10.00")


def test_debit_of_a_parked_credit_releases_suspense() -> None:
    order, _ = deposits.on_credit(deposit(), eur("5.00"))
    order, effects = deposits.on_debit(order, eur("5.00"))
    assert effects == [deposits.ReleaseSuspense(eur("5.00"))]


def test_cancel_ends_only_an_uncredited_order() -> None:
    order, _ = deposits.on_pending(deposit())
    assert deposits.on_cancel(order)[0].state is DepositState.CANCELLED
    credited, _ = deposits.on_credit(order, eur("10.00"))
    assert deposits.on_cancel(credited) == (credited, [])
    cancelled = deposits.on_cancel(order)[0]
    order, effects = deposits.on_credit(cancelled, eur("10.00"))
    assert isinstance(effects[0], deposits.ParkInSuspense)


def payout() -> PayoutOrder:
    return PayoutOrder(1, 7, "p-1", eur("10.00"))


def test_payout_confirmed_then_returned_posts_then_reverses() -> None:
    order, _ = payouts.on_sent(payout())
    order, effects = payouts.on_confirmed(order)
    assert effects == [payouts.PostReservation()]
    assert payouts.on_confirmed(order) == (order, [])
    order, effects = payouts.on_credit(order, eur("10.00"))
    assert effects == [payouts.ReturnPayout(eur("10.00"), "payout returned")]
    assert payouts.on_credit(order, eur("10.00")) == (order, [])
    assert order.state is PayoutState.RETURNED


@pytest.mark.parametrize("arrival", list(permutations(["cancel", "credit", "confirmed"])))
def test_payout_failure_paths_settle_exactly_once(arrival: tuple[str, ...]) -> None:
    order, effects = payout(), []
    for event in arrival:
        if event == "cancel":
            order, new = payouts.on_cancel(order)
        elif event == "credit":
            order, new = payouts.on_credit(order, eur("10.00"))
        else:
            order, new = payouts.on_confirmed(order)
        effects += new
    settling = [
        e for e in effects if isinstance(e, payouts.PostReservation | payouts.VoidReservation)
    ]
    assert len(settling) == 1
    assert sum(isinstance(e, payouts.ReturnPayout) for e in effects) <= 1


def test_a_rejected_payout_releases_the_reservation() -> None:
    order, effects = payouts.on_rejected(payout(), "616")
    assert effects == [payouts.VoidReservation("616")]
    assert payouts.on_rejected(order, "again") == (order, [])
