"""Base classes for typed request and result models.

Python attribute names are snake_case; each field's alias is Trustly's exact wire name.
Requests forbid unknown fields (a typo must not become a silently ignored attribute; use
``extra_attributes`` for attributes this SDK does not know yet). Results keep every field
Trustly sent, known or not, in ``model_extra``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer

from fintrust.trustly._amount import format_amount, parse_amount, validate_currency

__all__ = [
    "Amount",
    "Currency",
    "TrustlyRequest",
    "TrustlyResult",
    "WireAmount",
]


def _to_decimal(value: Any) -> Any:
    if isinstance(value, str | int) and not isinstance(value, bool):
        return parse_amount(value)
    if isinstance(value, float):
        raise ValueError("amounts must be Decimal or decimal strings, never floats")
    return value


def _two_places(value: Decimal) -> str:
    # Validation (``check_amount``) already refused anything that needs rounding.
    return f"{value:.2f}"


Amount = Annotated[
    Decimal,
    BeforeValidator(_to_decimal),
    PlainSerializer(_two_places, return_type=str),
]
"""A positive amount in Python, a two-decimal string on the wire."""

WireAmount = Annotated[Decimal, BeforeValidator(_to_decimal)]
"""An amount read from Trustly, kept exact (it may have any number of decimals, or a sign)."""

Currency = Annotated[str, BeforeValidator(validate_currency)]


def check_amount(amount: Decimal | None, currency: str | None) -> None:
    """Refuse an amount that is not positive or does not fit ``currency`` (raises ValueError)."""
    if amount is not None:
        format_amount(amount, currency or "EUR")


_ResultT = TypeVar("_ResultT")


class TrustlyRequest(BaseModel, Generic[_ResultT]):
    """A method's ``Data`` without the credentials, which the client adds; typed by its result."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    method: ClassVar[str]

    @classmethod
    def parse_result(cls, data: Any) -> _ResultT:
        """Turn the verified response ``data`` into this method's typed result."""
        raise NotImplementedError(f"{cls.__name__} does not define parse_result")

    def to_data(self) -> dict[str, Any]:
        """The ``Data`` object as sent: Trustly names, amounts as strings, no absent fields."""
        data = self.model_dump(by_alias=True, exclude_none=True, mode="json")
        _merge_extra_attributes(data)
        return data


def _merge_extra_attributes(node: dict[str, Any]) -> None:
    for value in node.values():
        if isinstance(value, dict):
            _merge_extra_attributes(value)
    extra = node.pop("extra_attributes", None)
    if extra:
        clashes = sorted(set(extra) & set(node))
        if clashes:
            raise ValueError(f"extra_attributes repeat known fields: {', '.join(clashes)}")
        node.update(extra)


class TrustlyAttributes(BaseModel):
    """An ``Attributes`` object. ``extra_attributes`` carries names this SDK does not know yet."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)

    extra_attributes: dict[str, str] | None = Field(default=None, alias="extra_attributes")


class TrustlyResult(BaseModel):
    """A verified result's ``data``. Unknown fields are kept, never dropped."""

    model_config = ConfigDict(populate_by_name=True, extra="allow", frozen=True)
