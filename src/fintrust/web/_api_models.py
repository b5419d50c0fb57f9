"""The merchant API's request and response bodies. Amounts travel as decimal strings, never as
JSON numbers: a float cannot carry an exact amount, and an amount with more decimals than its
currency has is refused, never rounded."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema, model_validator

from fintrust.adapters.db.uow import as_utc
from fintrust.domain.money import Money
from fintrust.trustly import currency_exponent, format_amount, parse_amount

__all__ = [
    "BalanceOut",
    "BalancesOut",
    "CustomerIn",
    "CustomerOut",
    "DepositIn",
    "DepositRefusedOut",
    "ErrorOut",
    "NotificationOut",
    "OrderDetailOut",
    "OrderOut",
    "OrdersOut",
    "WithdrawalIn",
    "amount_text",
    "customer_out",
    "order_out",
    "timestamp",
]

# Far beyond any payment, and its minor units fit the database's 64-bit integers.
MAX_AMOUNT_DIGITS = 13
_AMOUNT_SCHEMA = {
    "type": "string",
    "pattern": rf"^[0-9]{{1,{MAX_AMOUNT_DIGITS}}}(\.[0-9]+)?$",
    "examples": ["100.00"],
    "description": "A decimal string with no more decimals than the currency has, and at most "
    f"{MAX_AMOUNT_DIGITS} digits before the point",
}


def _decimal_string(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError(
            'amounts are decimal strings such as "100.00", never JSON numbers '
            "(a float cannot carry an exact amount)"
        )
    return parse_amount(value)


AmountIn = Annotated[Decimal, BeforeValidator(_decimal_string), WithJsonSchema(_AMOUNT_SCHEMA)]
AmountOut = Annotated[
    str,
    WithJsonSchema(
        {
            **_AMOUNT_SCHEMA,
            "pattern": r"^-?[0-9]+(\.[0-9]+)?$",
            "description": "A decimal string with as many decimals as the currency has",
        }
    ),
]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", examples=["EUR"])]
# No control characters in what a client sends: PostgreSQL text cannot even hold NUL (it was a 500)
# and none belongs in a name, an id or a URL.
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"
_WORD = r"[^@\s\x00-\x1f\x7f]+"  # no whitespace either
Url = Annotated[str, Field(pattern=r"^https?://[^\s\x00-\x1f\x7f]+$", max_length=2000)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelt field is an error, not ignored


class _MoneyIn(_Body):
    amount: AmountIn
    currency: Currency

    @model_validator(mode="after")
    def _fits_the_currency(self) -> _MoneyIn:
        self.money()
        return self

    def money(self) -> Money:
        if self.amount <= 0:
            raise ValueError(f"amount must be greater than zero, got {self.amount}")
        if self.amount >= 10**MAX_AMOUNT_DIGITS:
            raise ValueError(
                f"amount too large: at most {MAX_AMOUNT_DIGITS} digits before the point"
            )
        try:
            money = Money.of(self.amount, self.currency)
            format_amount(self.amount, self.currency)  # Trustly takes at most two decimals
        except ValueError as exc:
            raise ValueError(f"amount {exc}") from None
        return money


class DepositIn(_MoneyIn):
    success_url: Url = Field(
        description="Where Trustly sends the customer after paying ({order_id}: our order's id)"
    )
    fail_url: Url = Field(
        description="Where Trustly sends the customer after giving up ({order_id}: as above)"
    )


class WithdrawalIn(_MoneyIn):
    """Paid to the bank account the customer last deposited from (closed loop)."""


class CustomerIn(_Body):
    end_user_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        pattern=r"^[^\s\x00-\x1f\x7f]+$",
        description="Stable and unique for life; generated (cust-<uuid>) when absent",
    )
    firstname: str = Field(min_length=1, max_length=100, pattern=_PRINTABLE)
    lastname: str = Field(min_length=1, max_length=100, pattern=_PRINTABLE)
    email: str | None = Field(default=None, max_length=200, pattern=rf"^{_WORD}@{_WORD}\.{_WORD}$")
    country: str = Field(pattern=r"^[A-Z]{2}$", examples=["SE"])
    locale: str = Field(pattern=r"^[a-z]{2}_[A-Z]{2}$", examples=["sv_SE"])
    currency: Currency = Field(description="The wallet opened for the customer")
    national_id: str | None = Field(default=None, min_length=1, max_length=40, pattern=_PRINTABLE)

    @model_validator(mode="after")
    def _known_currency(self) -> CustomerIn:
        currency_exponent(self.currency)
        return self


class ErrorOut(BaseModel):
    error: str


class CustomerOut(BaseModel):
    id: int
    end_user_id: str
    name: str
    firstname: str
    lastname: str
    email: str | None
    country: str
    locale: str
    national_id: str | None
    created_at: str


class BalanceOut(BaseModel):
    currency: str
    posted: AmountOut = Field(description="Credited and final")
    available: AmountOut = Field(description="Posted less withdrawals in flight")
    frozen: bool = Field(description="Below zero (a deposit taken back): no withdrawals")


class BalancesOut(BaseModel):
    customer_id: int
    balances: list[BalanceOut]


class OrderOut(BaseModel):
    id: int
    kind: str = Field(description="deposit, payout, ...")
    product: str
    customer_id: int
    state: str
    currency: str
    amount: AmountOut | None
    credited: AmountOut | None = Field(description="Deposits: given to the customer")
    in_suspense: AmountOut | None = Field(description="Deposits: parked for an operator")
    trustly_order_id: str | None
    url: str | None = Field(description="Deposits: Trustly's checkout, for an iframe")
    error: str | None
    created_at: str
    updated_at: str


class NotificationOut(BaseModel):
    notification_id: str
    method: str
    reply_status: str
    outcome: str
    received_at: str


class OrderDetailOut(OrderOut):
    notifications: list[NotificationOut]


class OrdersOut(BaseModel):
    orders: list[OrderOut]


class DepositRefusedOut(ErrorOut):
    order: OrderOut


def timestamp(moment: dt.datetime) -> str:
    """ISO 8601 in UTC (SQLite returns naive datetimes; they were written in UTC)."""
    return as_utc(moment).astimezone(dt.UTC).isoformat()


def amount_text(money: Money) -> str:
    return f"{money.amount:.{currency_exponent(money.currency)}f}"


def _amount(minor: int | None, currency: str) -> str | None:
    return None if minor is None else amount_text(Money(currency, minor))


def customer_out(row: Any) -> CustomerOut:
    return CustomerOut(
        id=row.id,
        end_user_id=row.end_user_id,
        name=row.name,
        firstname=row.firstname,
        lastname=row.lastname,
        email=row.email,
        country=row.country,
        locale=row.locale,
        national_id=row.national_id,
        created_at=timestamp(row.created_at),
    )


def order_out(row: Any) -> OrderOut:
    return OrderOut(
        id=row.id,
        kind=row.kind,
        product=row.product,
        customer_id=row.customer_id,
        state=row.state,
        currency=row.currency,
        amount=_amount(row.amount, row.currency),
        credited=_amount(row.credited, row.currency),
        in_suspense=_amount(row.in_suspense, row.currency),
        trustly_order_id=row.trustly_order_id,
        url=row.checkout_url,
        error=row.error,
        created_at=timestamp(row.created_at),
        updated_at=timestamp(row.updated_at),
    )
