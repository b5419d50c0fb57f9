"""Amounts on the wire: ``Decimal`` in Python, decimal strings with two places at Trustly.

An amount that does not fit its currency is an error, never rounded.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["currency_exponent", "format_amount", "parse_amount", "validate_currency"]

# ISO 4217 minor-unit exponents that differ from the usual 2. Trustly's markets use 2-decimal
# currencies; the others are listed so that a stray JPY or ISK amount with cents is refused.
_EXPONENT_EXCEPTIONS = {
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
}  # fmt: skip
_CURRENCY = re.compile(r"\A[A-Z]{3}\Z")
_AMOUNT_TEXT = re.compile(r"\A-?[0-9]+(\.[0-9]+)?\Z")


def validate_currency(currency: str) -> str:
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ValueError(
            f"currency must be a 3-letter ISO 4217 code in upper case, got {currency!r}"
        )
    return currency


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of ``currency`` (2 unless ISO 4217 says otherwise)."""
    return _EXPONENT_EXCEPTIONS.get(validate_currency(currency), 2)


def parse_amount(value: str | int | Decimal) -> Decimal:
    """Read an amount as Trustly writes it (``"902.50"``, ``"11"``, ``"-0.0123"``).

    Floats are refused: they cannot carry an exact amount.
    """
    if isinstance(value, bool | float):
        raise ValueError("amounts must be decimal strings, never floats or booleans")
    if isinstance(value, int):
        return Decimal(value)
    text = str(value)
    if not _AMOUNT_TEXT.match(text):
        raise ValueError(f"not a decimal amount: {text!r}")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the pattern already guarantees a number
        raise ValueError(f"not a decimal amount: {text!r}") from None


def format_amount(amount: Decimal | str | int, currency: str) -> str:
    """The wire text of a positive amount: exactly two decimals (``Decimal("12.5")`` → ``"12.50"``).

    Raises ``ValueError`` when the amount is not positive, has more decimals than Trustly's two,
    or has more decimals than ``currency`` has minor units.
    """
    value = parse_amount(amount) if not isinstance(amount, Decimal) else amount
    if not value.is_finite() or value <= 0:
        raise ValueError(f"amount must be greater than zero, got {value}")
    places = -int(value.normalize().as_tuple().exponent)
    allowed = min(2, currency_exponent(currency))
    if places > allowed:
        raise ValueError(
            f"{value} {currency} has {places} decimals but {currency} amounts at Trustly take at "
            f"most {allowed}; amounts are never rounded"
        )
    return f"{value:.2f}"
