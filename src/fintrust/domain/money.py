"""Money: integer minor units and a currency. Never a float; never rounded."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from fintrust.trustly import currency_exponent, parse_amount

__all__ = ["Money"]


@dataclass(frozen=True, slots=True, order=True)
class Money:
    currency: str
    minor: int

    def __post_init__(self) -> None:
        currency_exponent(self.currency)  # validates the code
        if isinstance(self.minor, bool) or not isinstance(self.minor, int):
            raise TypeError("Money.minor is an integer number of minor units")

    @classmethod
    def of(cls, amount: Decimal | str | int, currency: str) -> Money:
        """Exact: ``Money.of("12.50", "EUR")``. An amount with more decimals than the
        currency has minor units is refused, never rounded."""
        value = amount if isinstance(amount, Decimal) else parse_amount(amount)
        exponent = currency_exponent(currency)
        scaled = value.scaleb(exponent)
        if scaled != scaled.to_integral_value():
            raise ValueError(f"{value} does not fit {currency} ({exponent} decimals); not rounded")
        return cls(currency, int(scaled))

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(currency, 0)

    @property
    def amount(self) -> Decimal:
        return Decimal(self.minor).scaleb(-currency_exponent(self.currency))

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} and {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor + other.minor)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.currency, self.minor - other.minor)

    def __neg__(self) -> Money:
        return Money(self.currency, -self.minor)

    @property
    def is_positive(self) -> bool:
        return self.minor > 0

    def __str__(self) -> str:
        return f"{self.amount:.{currency_exponent(self.currency)}f} {self.currency}"
