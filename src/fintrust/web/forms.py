"""Reading what customers type: an amount is exact decimal text in the currency's minor units.

Never a float, never rounded: "10.005" in EUR is refused with a reason, not turned into 10.01.
A comma is refused too ("1,000" could be a thousand or one); the message says how to write it.
"""

from __future__ import annotations

import re
from decimal import Decimal

from fintrust.domain.money import Money
from fintrust.trustly import currency_exponent

__all__ = ["AmountError", "format_money", "parse_amount_input"]

_AMOUNT = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<fraction>[0-9]+))?")
MAX_WHOLE_DIGITS = 9  # a form amount of a billion or more is a typo, not a deposit


class AmountError(ValueError):
    """The amount cannot be used; the message is for the customer."""


def parse_amount_input(text: str, currency: str) -> Money:
    value = text.strip().replace(" ", "").replace("\u00a0", "")
    if not value:
        raise AmountError("Enter an amount.")
    match = _AMOUNT.fullmatch(value)
    if match is None:
        raise AmountError("Enter the amount in digits with a point for decimals, like 100.50.")
    # Trustly takes at most two decimals, whatever the currency's own minor unit.
    decimals = min(2, currency_exponent(currency))
    fraction = match["fraction"] or ""
    if len(fraction.rstrip("0")) > decimals:
        if decimals == 0:
            raise AmountError(f"{currency} amounts are whole numbers.")
        raise AmountError(f"{currency} amounts have at most {decimals} decimals.")
    if len(match["whole"].lstrip("0")) > MAX_WHOLE_DIGITS:
        raise AmountError("That amount is too large.")
    money = Money.of(Decimal(value), currency)
    if not money.is_positive:
        raise AmountError("Enter an amount greater than zero.")
    return money


def format_money(money: Money, *, sign: bool = False) -> str:
    """``1,234.50 EUR``; a negative amount with a true minus sign; ``+`` first when ``sign``."""
    exponent = currency_exponent(money.currency)
    magnitude = f"{abs(money.amount):,.{exponent}f}"
    prefix = "\u2212" if money.minor < 0 else ("+" if sign and money.minor > 0 else "")
    return f"{prefix}{magnitude} {money.currency}"
