"""Money and the ledger's rules, without a database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fintrust.domain.ledger import (
    SUSPENSE,
    TRUSTLY,
    AccountBalance,
    LedgerError,
    Transfer,
    TransferKind,
    apply,
    totals_balance,
    wallet,
)
from fintrust.domain.money import Money


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def test_money_is_exact_and_refuses_what_does_not_fit() -> None:
    assert eur("12.50") == Money("EUR", 1250)
    assert eur("12.50").amount == Decimal("12.50")
    assert str(Money.of("1000", "JPY")) == "1000 JPY"
    with pytest.raises(ValueError, match="not rounded"):
        eur("0.005")
    with pytest.raises(ValueError, match="not rounded"):
        Money.of("1.5", "JPY")
    with pytest.raises(ValueError, match="floats"):
        Money.of(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="combine"):
        eur("1.00") + Money.of("1.00", "SEK")


def _books(*codes: str, currency: str = "EUR") -> dict[str, AccountBalance]:
    return {
        code: AccountBalance(code, currency, no_overdraft=code.startswith("liability:wallet"))
        for code in codes
    }


def test_a_deposit_credit_and_its_reversal() -> None:
    books = _books(TRUSTLY, wallet(1))
    apply(books, Transfer("t1", TRUSTLY, wallet(1), eur("10.00")))
    assert books[TRUSTLY].posted == eur("10.00")
    assert books[wallet(1)].posted == eur("10.00")
    apply(books, Transfer("t2", wallet(1), TRUSTLY, eur("10.00")), enforce_no_overdraft=False)
    assert books[wallet(1)].posted == eur("0.00")
    assert totals_balance(books.values())


def test_a_payout_reservation_posts_or_voids_once() -> None:
    books = _books(TRUSTLY, wallet(1))
    apply(books, Transfer("t1", TRUSTLY, wallet(1), eur("10.00")))
    reserve = Transfer("r", wallet(1), TRUSTLY, eur("4.00"), TransferKind.PENDING)
    apply(books, reserve)
    assert books[wallet(1)].available == eur("6.00")
    assert books[wallet(1)].posted == eur("10.00")
    apply(books, Transfer("p", wallet(1), TRUSTLY, eur("4.00"), TransferKind.POST, "r"), reserve)
    assert books[wallet(1)].posted == eur("6.00")
    assert books[wallet(1)].available == eur("6.00")
    with pytest.raises(LedgerError, match="match"):
        apply(
            books, Transfer("v", wallet(1), TRUSTLY, eur("5.00"), TransferKind.VOID, "r"), reserve
        )


def test_no_overdraft_refuses_a_reservation_beyond_the_available_balance() -> None:
    books = _books(TRUSTLY, wallet(1))
    apply(books, Transfer("t1", TRUSTLY, wallet(1), eur("10.00")))
    with pytest.raises(LedgerError, match="overdrawn"):
        apply(books, Transfer("r", wallet(1), TRUSTLY, eur("10.01"), TransferKind.PENDING))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Transfer("x", TRUSTLY, TRUSTLY, eur("1.00")), "two different"),
        (lambda: Transfer("x", TRUSTLY, SUSPENSE, eur("0.00")), "positive"),
        (lambda: Transfer("x", "bank", SUSPENSE, eur("1.00")), "must start with"),
        (lambda: Transfer("x", TRUSTLY, SUSPENSE, eur("1.00"), TransferKind.POST), "pending_id"),
    ],
)
def test_malformed_transfers_are_refused(build: object, message: str) -> None:
    with pytest.raises(LedgerError, match=message):
        build()  # type: ignore[operator]


@given(
    st.lists(
        st.tuples(
            st.sampled_from([TRUSTLY, SUSPENSE, wallet(1), wallet(2)]),
            st.sampled_from([TRUSTLY, SUSPENSE, wallet(1), wallet(2)]),
            st.integers(1, 10_000),
        ),
        max_size=40,
    )
)
def test_any_sequence_of_transfers_keeps_the_books_balanced(
    moves: list[tuple[str, str, int]],
) -> None:
    books = _books(TRUSTLY, SUSPENSE, wallet(1), wallet(2))
    for index, (debit, credit, minor) in enumerate(moves):
        if debit == credit:
            continue
        try:
            apply(
                books,
                Transfer(str(index), debit, credit, Money("EUR", minor)),
                enforce_no_overdraft=False,
            )
        except LedgerError:
            pytest.fail("valid transfers are applied")
        assert totals_balance(books.values())
