"""A credit for a payout (money coming back) gives the customer back exactly what was paid
out; anything else is parked for an operator. Wallets refuse overdrafts in every currency."""

from __future__ import annotations

import pytest

from fintrust.domain import payouts
from fintrust.domain.ledger import SUSPENSE, TRUSTLY, opens_with_no_overdraft, wallet
from fintrust.domain.money import Money
from fintrust.domain.payouts import PayoutOrder, PayoutState


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def payout(state: PayoutState) -> PayoutOrder:
    return PayoutOrder(1, 7, "p-1", eur("30.00"), state)


@pytest.mark.parametrize("state", [PayoutState.REQUESTED, PayoutState.SENT, PayoutState.CONFIRMED])
@pytest.mark.parametrize(
    "credited", [eur("1000.00"), eur("29.99"), Money.of("30.00", "SEK")], ids=str
)
def test_a_credit_other_than_the_payout_is_parked_and_settles_nothing(
    state: PayoutState, credited: Money
) -> None:
    order, effects = payouts.on_credit(payout(state), credited)
    assert order.state is state  # the reservation stays as it was: an operator decides
    assert effects == [
        payouts.ParkInSuspense(credited, f"credited {credited} for a payout of 30.00 EUR")
    ]


@pytest.mark.parametrize("state", [PayoutState.FAILED, PayoutState.RETURNED])
def test_a_credit_after_the_payout_was_settled_back_changes_nothing(state: PayoutState) -> None:
    assert payouts.on_credit(payout(state), eur("1000.00")) == (payout(state), [])


def test_the_payouts_own_amount_is_still_voided_or_returned() -> None:
    _, effects = payouts.on_credit(payout(PayoutState.SENT), eur("30.00"))
    assert effects == [payouts.VoidReservation("payout failed")]
    _, effects = payouts.on_credit(payout(PayoutState.CONFIRMED), eur("30.00"))
    assert effects == [payouts.ReturnPayout(eur("30.00"), "payout returned")]


def test_wallets_and_only_wallets_open_with_no_overdraft() -> None:
    assert opens_with_no_overdraft(wallet(7))
    assert not opens_with_no_overdraft(TRUSTLY)
    assert not opens_with_no_overdraft(SUSPENSE)
    assert not opens_with_no_overdraft("liability:walletish")
