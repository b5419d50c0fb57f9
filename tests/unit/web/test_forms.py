"""Amounts typed by customers: exact decimals in the currency's minor units, never rounded."""

from __future__ import annotations

import pytest

from fintrust.domain.money import Money
from fintrust.web.forms import AmountError, format_money, parse_amount_input


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("100", "EUR", 10000),
        ("100.5", "EUR", 10050),
        (" 100.50 ", "EUR", 10050),
        ("1 000.00", "SEK", 100000),
        ("10.500", "EUR", 1050),  # trailing zeros add no precision
        ("007", "EUR", 700),
        ("1500", "JPY", 1500),
        ("12.00", "JPY", 12),
    ],
)
def test_exact_amounts_are_read(text: str, currency: str, minor: int) -> None:
    assert parse_amount_input(text, currency) == Money(currency, minor)


@pytest.mark.parametrize(
    ("text", "currency", "message"),
    [
        ("", "EUR", "Enter an amount."),
        ("10.001", "EUR", "at most 2 decimals"),
        ("10.5", "JPY", "whole numbers"),
        ("1.005", "KWD", "at most 2 decimals"),  # Trustly takes two, whatever the currency
        ("1,5", "EUR", "digits"),
        ("NaN", "EUR", "digits"),
        ("Infinity", "EUR", "digits"),
        ("1e2", "EUR", "digits"),
        ("+5", "EUR", "digits"),
        (".5", "EUR", "digits"),
        ("0", "EUR", "greater than zero"),
        ("٣", "EUR", "digits"),  # a non-ASCII digit
        ("1234567890", "EUR", "too large"),
    ],
)
def test_other_text_is_refused_with_a_reason(text: str, currency: str, message: str) -> None:
    with pytest.raises(AmountError, match=message):
        parse_amount_input(text, currency)


def test_money_is_shown_grouped_with_a_true_minus() -> None:
    assert format_money(Money("EUR", 123456789)) == "1,234,567.89 EUR"
    assert format_money(Money("EUR", -5000)) == "\u221250.00 EUR"
    assert format_money(Money("JPY", 1500), sign=True) == "+1,500 JPY"
    assert format_money(Money("SEK", 0), sign=True) == "0.00 SEK"
