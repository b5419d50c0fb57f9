"""Typed results: the verified ``data`` of Trustly's answer to each method.

Every model keeps the fields Trustly sent that it does not know (``model_extra``): Trustly adds
fields without notice. Identifiers stay strings (Trustly documents them as numeric text but
sometimes sends JSON numbers), amounts stay exact ``Decimal`` and flags become ``bool``.
Dumping a result ``by_alias`` in JSON mode gives Trustly's wire form back, which the emulator uses.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
)

from fintrust.trustly._errors import MalformedResponseError
from fintrust.trustly._model import TrustlyResult, WireAmount

__all__ = [
    "AccountPayoutResult",
    "ApproveWithdrawalResult",
    "CancelChargeResult",
    "ChargeResult",
    "CurrencyBalance",
    "DenyWithdrawalResult",
    "DepositResult",
    "Flag",
    "LedgerEntry",
    "NumericID",
    "RefundResult",
    "RegisterAccountResult",
    "SelectAccountResult",
    "Timestamp",
    "ViewAutomaticSettlementDetailsCSVResult",
    "WithdrawResult",
    "Withdrawal",
]

_DIGITS = re.compile(r"\A[0-9]+\Z")


def _to_flag(value: Any) -> Any:
    # Trustly's flags are "1"/"0"; PHP and Java send 1/0 numbers, so those are read too.
    if isinstance(value, bool):
        return value
    if value in ("1", 1):
        return True
    if value in ("0", 0):
        return False
    raise ValueError(f"a flag must be a bool or '1'/'0', got {value!r}")


def _flag_text(value: bool) -> str:
    return "1" if value else "0"


Flag = Annotated[bool, BeforeValidator(_to_flag), PlainSerializer(_flag_text, return_type=str)]
"""A bool in Python, ``"1"``/``"0"`` on the wire."""


def _to_id(value: Any) -> Any:
    # ApproveWithdrawal/DenyWithdrawal examples carry OrderID as a JSON number; keep one form.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, str) and not _DIGITS.match(value):
        raise ValueError(f"Trustly identifiers are numeric text, got {value!r}")
    return value


NumericID = Annotated[str, BeforeValidator(_to_id)]
"""An OrderID or AccountID: digits, always a string in Python and on the wire."""


def _to_timestamp(value: Any) -> Any:
    if isinstance(value, str):
        # PostgreSQL text such as "2015-05-12 11:16:30.957975+02"; 3.11's parser reads it.
        return datetime.fromisoformat(value)
    if isinstance(value, datetime):
        return value
    # Without this, pydantic would read a number as Unix time.
    raise ValueError(f"a timestamp must be text, got {type(value).__name__}")


def _timestamp_text(value: datetime) -> str:
    text = value.isoformat(sep=" ", timespec="microseconds")
    # Trustly writes the offset as "+02", not "+02:00", when it is whole hours.
    return text[:-3] if text.endswith(":00") and value.utcoffset() is not None else text


Timestamp = Annotated[
    datetime,
    BeforeValidator(_to_timestamp),
    PlainSerializer(_timestamp_text, return_type=str),
]
"""A timestamp Trustly sends (``YYYY-MM-DD HH:MM:SS.ffffff+HH``), as an aware ``datetime``."""


_Result = TypeVar("_Result")


def parse_data(adapter: TypeAdapter[_Result], data: Any, method: str) -> _Result:
    """Validate ``data`` against ``adapter`` or raise :class:`MalformedResponseError`."""
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        # Only locations and messages: the input may hold personal data that must not be logged.
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'data'}: {error['msg']}"
            for error in exc.errors(include_url=False, include_input=False)
        )
        raise MalformedResponseError(
            "the result data does not have the documented shape",
            method=method,
            detail=problems,
        ) from None


class _CheckoutResult(TrustlyResult):
    order_id: NumericID = Field(alias="orderid")
    url: str = Field(description="Opaque checkout URL, valid for minutes; never parse it.")


class DepositResult(_CheckoutResult):
    """The deposit's OrderID and the checkout URL to show the end user."""


class WithdrawResult(_CheckoutResult):
    """The withdrawal's OrderID and the checkout URL to show the end user."""


class SelectAccountResult(_CheckoutResult):
    """The order's OrderID and the checkout URL; the AccountID comes in an account notification."""


class _AcceptedResult(TrustlyResult):
    order_id: NumericID = Field(alias="orderid")
    result: Flag = Field(description="True when Trustly accepted the call for processing.")


class AccountPayoutResult(_AcceptedResult):
    """Accepted for processing only; the payoutconfirmation/credit notifications tell the rest."""


class RefundResult(_AcceptedResult):
    """``order_id`` is the refunded deposit's OrderID."""


class ApproveWithdrawalResult(_AcceptedResult):
    """Whether the withdrawal was approved."""


class DenyWithdrawalResult(_AcceptedResult):
    """Whether the withdrawal was denied (cancel and credit notifications follow)."""


class RegisterAccountResult(TrustlyResult):
    """The AccountID for AccountPayout; identical bank details always give the same one."""

    account_id: NumericID = Field(alias="accountid")
    clearing_house: str = Field(alias="clearinghouse")
    bank: str | None = None
    descriptor: str | None = Field(default=None, description="Masked account text, may be empty.")


class ChargeResult(TrustlyResult):
    """Whether a direct-debit charge was accepted; ``rejected`` names the reason if not."""

    order_id: NumericID | None = Field(default=None, alias="orderid")
    result: Flag
    rejected: str | None = None


class CancelChargeResult(TrustlyResult):
    """Whether the charge was cancelled; ``rejected`` names the reason if not."""

    result: Flag
    rejected: str | None = None


class Withdrawal(TrustlyResult):
    """One payout order as GetWithdrawals reports it.

    ``transfer_state`` is informational: Trustly adds and changes states without notice, so no
    logic should depend on it. Notifications are what settle a payout.
    """

    reference: str | None = None
    modification_date: Timestamp | None = Field(default=None, alias="modificationdate")
    order_id: NumericID = Field(alias="orderid")
    datestamp: Timestamp
    transfer_state: str = Field(alias="transferstate")
    amount: WireAmount
    account_id: NumericID | None = Field(default=None, alias="accountid")
    currency: str
    eta: Timestamp | None = None


class CurrencyBalance(TrustlyResult):
    """The merchant account's balance in one currency."""

    currency: str
    balance: WireAmount


class LedgerEntry(TrustlyResult):
    """One settled transaction; fees are negative and amounts may carry many decimals."""

    user_id: str | None = Field(default=None, alias="userid")
    datestamp: Timestamp
    order_id: NumericID | None = Field(default=None, alias="orderid")
    account_name: str = Field(alias="accountname")
    message_id: str | None = Field(default=None, alias="messageid")
    transaction_type: str = Field(alias="transactiontype")
    currency: str
    amount: WireAmount
    gluepay_id: str | None = Field(default=None, alias="gluepayid")


class ViewAutomaticSettlementDetailsCSVResult(TrustlyResult):
    """The settlement report as Trustly sent it; :meth:`rows` reads the CSV."""

    csv_text: str = Field(alias="view_automatic_settlement_details")

    def rows(self) -> list[dict[str, str]]:
        """One dict per line, keyed by the header (``datestamp``, ``amount``, ``orderid``...).

        Values stay text (amounts included) so nothing is lost; blank lines are skipped.
        Raises ``ValueError`` for a line that is not valid CSV or does not match the header.
        """
        reader = csv.DictReader(io.StringIO(self.csv_text, newline=""), strict=True)
        rows: list[dict[str, str]] = []
        try:
            for row in reader:
                # DictReader files surplus values under None and fills missing ones with None.
                if None in row or None in row.values():
                    raise ValueError("the line does not match the header")
                rows.append(row)
        except (csv.Error, ValueError) as exc:
            raise ValueError(f"settlement report line {reader.line_num}: {exc}") from None
        return rows
