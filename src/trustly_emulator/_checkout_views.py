"""What the checkout pages show of an order, and what the end user entered on page 1.

:class:`OrderView` reads an order as the pages see it: who is paid, what amount (fixed, or
asked for within the suggested limits), which test cases it offers and where to go afterwards.
The routes check the posted choices against it and ``_checkout_pages`` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from trustly_emulator._banks import DEFAULT_LOGIN, LOGIN_FORMATS, Bank
from trustly_emulator._checkout_texts import Texts
from trustly_emulator._emulator import Emulator
from trustly_emulator._scenarios import Scenario, for_kind
from trustly_emulator._state import BankAccount, Order

__all__ = ["Choices", "OrderView", "login_format", "order_attribute", "parse_decimal"]


def parse_decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def order_attribute(order: Order, key: str) -> str | None:
    """A text attribute the merchant sent, or None when it is missing, empty or not text."""
    value = order.attributes.get(key)
    return value if isinstance(value, str) and value else None


def login_format(bank: Bank, t: Texts) -> tuple[str, str, str]:
    """What ``bank``'s login asks for: its label in the page language, a pattern, an example."""
    label, pattern, example = LOGIN_FORMATS.get(bank.country, DEFAULT_LOGIN)
    return t.translated(label), pattern, example


@dataclass(frozen=True)
class OrderView:
    """What the pages show of an order."""

    order: Order
    merchant: str
    currency: str
    fixed_amount: Decimal | None
    low: Decimal | None
    high: Decimal | None
    fail_url: str | None
    success_url: str | None
    url_target: str | None

    @classmethod
    def of(cls, order: Order) -> OrderView:
        has_amount = order.method in ("Deposit", "Withdraw")
        return cls(
            order=order,
            merchant=order_attribute(order, "ShopperStatement") or order.merchant,
            currency=order.currency or order_attribute(order, "Currency") or "",
            fixed_amount=order.amount if has_amount else None,
            low=parse_decimal(order_attribute(order, "SuggestedMinAmount")) if has_amount else None,
            high=parse_decimal(order_attribute(order, "SuggestedMaxAmount"))
            if has_amount
            else None,
            fail_url=order_attribute(order, "FailURL"),
            success_url=order_attribute(order, "SuccessURL"),
            url_target=order_attribute(order, "URLTarget"),
        )

    @property
    def kind(self) -> str:
        return self.order.method

    @property
    def holder(self) -> str:
        first = order_attribute(self.order, "Firstname") or ""
        last = order_attribute(self.order, "Lastname") or ""
        return f"{first} {last}".strip()

    @property
    def asks_amount(self) -> bool:
        return self.kind in ("Deposit", "Withdraw") and self.fixed_amount is None

    def shown_amount(self, chosen: Decimal | None) -> Decimal | None:
        """The order's own amount, else the one the end user chose (if any yet)."""
        return self.fixed_amount if self.fixed_amount is not None else chosen

    def default_amount(self) -> Decimal:
        if self.low is not None:
            return self.low
        hundred = Decimal("100.00")
        return min(hundred, self.high) if self.high is not None else hundred

    def amount_hint(self, t: Texts) -> str:
        low = t.money(self.low, self.currency) if self.low is not None else None
        high = t.money(self.high, self.currency) if self.high is not None else None
        if low and high:
            return t("amount_range", low=low, high=high)
        if low:
            return t("amount_min", low=low)
        return t("amount_max", high=high) if high else ""

    def parse_amount(self, text: str) -> tuple[Decimal | None, str | None]:
        """The amount the end user typed, or the error key."""
        value = parse_decimal(text.strip().replace(",", ".").replace(" ", "").replace("\u00a0", ""))
        exponent = value.as_tuple().exponent if value is not None else 0
        if value is None or value <= 0 or not isinstance(exponent, int) or exponent < -2:
            return None, "amount_invalid"
        if value >= Decimal("1e12"):
            return None, "amount_invalid"
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            return None, "amount_out_of_range"
        return value.quantize(Decimal("0.01")), None

    def scenarios(self) -> list[Scenario]:
        return for_kind(self.kind)

    def offers_scenario(self, scenario_id: str) -> bool:
        return any(s.id == scenario_id for s in self.scenarios())

    def default_scenario_id(self) -> str:
        choices = self.scenarios()
        return next((s.id for s in choices if s.default), choices[0].id)

    def express_account(self, emulator: Emulator) -> BankAccount | None:
        """Trustly Express: the Deposit names the account of this end user's last deposit."""
        order = self.order
        account_id = order_attribute(order, "AccountID")
        if order.method != "Deposit" or account_id is None:
            return None
        if emulator.store.last_account.get((order.merchant, order.end_user_id)) != account_id:
            return None
        return emulator.store.accounts.get(account_id)


@dataclass(frozen=True)
class Choices:
    """What the end user entered on page 1, to show it again."""

    country: str | None = None
    amount_text: str | None = None
    bank: str | None = None
    scenario_id: str | None = None
    options: bool = False
