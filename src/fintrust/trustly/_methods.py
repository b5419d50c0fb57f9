"""Typed requests for every Trustly method (methods spec §2), and their typed results.

A request is the method's ``Data`` without ``Username``/``Password`` (the client adds them):
``to_data()`` gives the wire object and ``parse_result(data)`` reads the verified answer.

Fields the docs mark required are required here; fields only some clients require stay optional
so that contracts needing less (Pay N Play, iDEAL) are not blocked. ``None`` means "leave the key
out", except for the keys Trustly documents as present-but-null (Refund/ApproveWithdrawal/
DenyWithdrawal ``Attributes``, AccountLedger and settlement-report ``Currency``, an organisation's
``Lastname``), which are sent as JSON null exactly as the docs and the Java client do.

Identifiers (OrderID, AccountID) are sent as strings, also where the docs' examples show a JSON
number (ApproveWithdrawal/DenyWithdrawal ``OrderID``): every other method sends them as strings
and an ``int`` is accepted in Python and converted.
"""

from __future__ import annotations

from datetime import date
from typing import Any, ClassVar, Final, Generic, Self, TypeVar

from pydantic import Field, TypeAdapter, model_validator

from fintrust.trustly._attributes import (
    AccountPayoutAttributes,
    ChargeAttributes,
    DepositAttributes,
    NotificationURL,
    PartyInformation,
    RecipientInformation,
    RefundAttributes,
    RegisterAccountAttributes,
    SelectAccountAttributes,
    SenderInformation,
    SendsNull,
    Text,
    ViewAutomaticSettlementDetailsCSVAttributes,
    WithdrawAttributes,
    check_amounts,
)
from fintrust.trustly._model import (
    Amount,
    Currency,
    TrustlyAttributes,
    TrustlyRequest,
    check_amount,
)
from fintrust.trustly._results import (
    AccountPayoutResult,
    ApproveWithdrawalResult,
    CancelChargeResult,
    ChargeResult,
    CurrencyBalance,
    DenyWithdrawalResult,
    DepositResult,
    Flag,
    LedgerEntry,
    NumericID,
    RefundResult,
    RegisterAccountResult,
    SelectAccountResult,
    Timestamp,
    ViewAutomaticSettlementDetailsCSVResult,
    Withdrawal,
    WithdrawResult,
    parse_data,
)

__all__ = [
    "REQUEST_TYPES",
    "REQUEST_TYPE_BY_METHOD",
    "AccountLedgerRequest",
    "AccountPayoutAttributes",
    "AccountPayoutRequest",
    "AccountPayoutResult",
    "ApproveWithdrawalRequest",
    "ApproveWithdrawalResult",
    "BalanceRequest",
    "CancelChargeRequest",
    "CancelChargeResult",
    "ChargeAttributes",
    "ChargeRequest",
    "ChargeResult",
    "CurrencyBalance",
    "DenyWithdrawalRequest",
    "DenyWithdrawalResult",
    "DepositAttributes",
    "DepositRequest",
    "DepositResult",
    "Flag",
    "GetWithdrawalsRequest",
    "LedgerEntry",
    "NumericID",
    "PartyInformation",
    "RecipientInformation",
    "RefundAttributes",
    "RefundRequest",
    "RefundResult",
    "RegisterAccountAttributes",
    "RegisterAccountRequest",
    "RegisterAccountResult",
    "SelectAccountAttributes",
    "SelectAccountRequest",
    "SelectAccountResult",
    "SenderInformation",
    "Timestamp",
    "ViewAutomaticSettlementDetailsCSVAttributes",
    "ViewAutomaticSettlementDetailsCSVRequest",
    "ViewAutomaticSettlementDetailsCSVResult",
    "WithdrawAttributes",
    "WithdrawRequest",
    "WithdrawResult",
    "Withdrawal",
]

_DecisionResult = TypeVar("_DecisionResult", ApproveWithdrawalResult, DenyWithdrawalResult)

_CHECKOUT: Final = TypeAdapter(DepositResult)
_SELECT: Final = TypeAdapter(SelectAccountResult)
_WITHDRAW: Final = TypeAdapter(WithdrawResult)
_PAYOUT: Final = TypeAdapter(AccountPayoutResult)
_REFUND: Final = TypeAdapter(RefundResult)
_APPROVE: Final = TypeAdapter(ApproveWithdrawalResult)
_DENY: Final = TypeAdapter(DenyWithdrawalResult)
_REGISTER: Final = TypeAdapter(RegisterAccountResult)
_WITHDRAWALS: Final = TypeAdapter(list[Withdrawal])
_BALANCES: Final = TypeAdapter(list[CurrencyBalance])
_LEDGER: Final = TypeAdapter(list[LedgerEntry])
_SETTLEMENT: Final = TypeAdapter(ViewAutomaticSettlementDetailsCSVResult)
_CHARGE: Final = TypeAdapter(ChargeResult)
_CANCEL_CHARGE: Final = TypeAdapter(CancelChargeResult)


class DepositRequest(TrustlyRequest[DepositResult]):
    """Start a pay-in; show the returned URL to the end user."""

    method: ClassVar[str] = "Deposit"

    notification_url: NotificationURL = Field(alias="NotificationURL")
    end_user_id: Text = Field(alias="EndUserID")
    message_id: Text = Field(alias="MessageID")
    attributes: DepositAttributes = Field(alias="Attributes")

    @classmethod
    def parse_result(cls, data: Any) -> DepositResult:
        return parse_data(_CHECKOUT, data, cls.method)


class SelectAccountRequest(TrustlyRequest[SelectAccountResult]):
    """Let the end user pick and verify a bank account; the AccountID arrives by notification."""

    method: ClassVar[str] = "SelectAccount"

    notification_url: NotificationURL = Field(alias="NotificationURL")
    end_user_id: Text = Field(alias="EndUserID")
    message_id: Text = Field(alias="MessageID")
    attributes: SelectAccountAttributes = Field(alias="Attributes")

    @classmethod
    def parse_result(cls, data: Any) -> SelectAccountResult:
        return parse_data(_SELECT, data, cls.method)


class WithdrawRequest(TrustlyRequest[WithdrawResult]):
    """Legacy checkout payout (not offered to new merchants; use AccountPayout)."""

    method: ClassVar[str] = "Withdraw"

    notification_url: NotificationURL = Field(alias="NotificationURL")
    end_user_id: Text = Field(alias="EndUserID")
    message_id: Text = Field(alias="MessageID")
    currency: Currency = Field(alias="Currency")
    attributes: WithdrawAttributes = Field(alias="Attributes")

    @model_validator(mode="after")
    def _check_amounts(self) -> Self:
        attributes = self.attributes
        check_amounts(
            self.currency,
            attributes.suggested_amount,
            attributes.suggested_min_amount,
            attributes.suggested_max_amount,
            "SuggestedAmount",
        )
        return self

    @classmethod
    def parse_result(cls, data: Any) -> WithdrawResult:
        return parse_data(_WITHDRAW, data, cls.method)


class AccountPayoutRequest(TrustlyRequest[AccountPayoutResult]):
    """Pay out to an AccountID from the merchant's Trustly balance (no credit is given)."""

    method: ClassVar[str] = "AccountPayout"

    notification_url: NotificationURL = Field(alias="NotificationURL")
    account_id: NumericID = Field(alias="AccountID")
    end_user_id: Text = Field(alias="EndUserID")
    message_id: Text = Field(alias="MessageID")
    amount: Amount = Field(alias="Amount")
    currency: Currency = Field(alias="Currency")
    attributes: AccountPayoutAttributes = Field(alias="Attributes")

    @model_validator(mode="after")
    def _check_amount(self) -> Self:
        check_amount(self.amount, self.currency)
        return self

    @classmethod
    def parse_result(cls, data: Any) -> AccountPayoutResult:
        return parse_data(_PAYOUT, data, cls.method)


class RegisterAccountRequest(TrustlyRequest[RegisterAccountResult]):
    """Register known bank details and get a stable AccountID (format check only)."""

    method: ClassVar[str] = "RegisterAccount"

    end_user_id: Text = Field(alias="EndUserID")
    clearing_house: Text = Field(alias="ClearingHouse")
    # Empty when account_number is an IBAN: Trustly derives the bank from it.
    bank_number: str = Field(alias="BankNumber")
    account_number: Text = Field(alias="AccountNumber")
    firstname: Text = Field(alias="Firstname")
    # Empty for an organisation (whose name goes in firstname).
    lastname: str = Field(alias="Lastname")
    attributes: RegisterAccountAttributes | None = Field(default=None, alias="Attributes")

    @classmethod
    def parse_result(cls, data: Any) -> RegisterAccountResult:
        return parse_data(_REGISTER, data, cls.method)


class RefundRequest(SendsNull, TrustlyRequest[RefundResult]):
    """Refund (part of) a Deposit or Charge to the account it came from."""

    method: ClassVar[str] = "Refund"
    _null_fields = ("attributes",)

    order_id: NumericID = Field(alias="OrderID")
    amount: Amount = Field(alias="Amount")
    currency: Currency = Field(alias="Currency")
    attributes: RefundAttributes | None = Field(default=None, alias="Attributes")

    @model_validator(mode="after")
    def _check_amount(self) -> Self:
        check_amount(self.amount, self.currency)
        return self

    @classmethod
    def parse_result(cls, data: Any) -> RefundResult:
        return parse_data(_REFUND, data, cls.method)


class _WithdrawalDecision(SendsNull, TrustlyRequest[_DecisionResult], Generic[_DecisionResult]):
    _null_fields = ("attributes",)

    order_id: NumericID = Field(alias="OrderID")
    # No attributes are defined; the docs send null.
    attributes: TrustlyAttributes | None = Field(default=None, alias="Attributes")


class ApproveWithdrawalRequest(_WithdrawalDecision[ApproveWithdrawalResult]):
    """Approve a withdrawal the end user prepared (manual approval mode)."""

    method: ClassVar[str] = "ApproveWithdrawal"

    @classmethod
    def parse_result(cls, data: Any) -> ApproveWithdrawalResult:
        return parse_data(_APPROVE, data, cls.method)


class DenyWithdrawalRequest(_WithdrawalDecision[DenyWithdrawalResult]):
    """Deny a prepared withdrawal; cancel and credit notifications follow."""

    method: ClassVar[str] = "DenyWithdrawal"

    @classmethod
    def parse_result(cls, data: Any) -> DenyWithdrawalResult:
        return parse_data(_DENY, data, cls.method)


class GetWithdrawalsRequest(TrustlyRequest[list[Withdrawal]]):
    """Look up a payout order (Withdraw, AccountPayout or Refund); not for routine polling."""

    method: ClassVar[str] = "GetWithdrawals"

    order_id: NumericID = Field(alias="OrderID")

    @classmethod
    def parse_result(cls, data: Any) -> list[Withdrawal]:
        return parse_data(_WITHDRAWALS, data, cls.method)


class BalanceRequest(TrustlyRequest[list[CurrencyBalance]]):
    """The merchant account's balance in every currency (at most every 15 minutes)."""

    method: ClassVar[str] = "Balance"

    @classmethod
    def parse_result(cls, data: Any) -> list[CurrencyBalance]:
        return parse_data(_BALANCES, data, cls.method)


class AccountLedgerRequest(SendsNull, TrustlyRequest[list[LedgerEntry]]):
    """Settled transactions from ``from_date`` up to, not including, ``to_date``."""

    method: ClassVar[str] = "AccountLedger"
    _null_fields = ("currency",)

    from_date: date = Field(alias="FromDate")
    to_date: date = Field(alias="ToDate")
    currency: Currency | None = Field(
        default=None, alias="Currency", description="None: all currencies."
    )

    @model_validator(mode="after")
    def _check_period(self) -> Self:
        if self.to_date <= self.from_date:
            raise ValueError("ToDate is exclusive, so it must be after FromDate")
        return self

    @classmethod
    def parse_result(cls, data: Any) -> list[LedgerEntry]:
        return parse_data(_LEDGER, data, cls.method)


class ViewAutomaticSettlementDetailsCSVRequest(
    SendsNull, TrustlyRequest[ViewAutomaticSettlementDetailsCSVResult]
):
    """The automatic settlement report for one settlement date, as CSV."""

    method: ClassVar[str] = "ViewAutomaticSettlementDetailsCSV"
    _null_fields = ("currency",)

    settlement_date: date = Field(alias="SettlementDate")
    currency: Currency | None = Field(
        default=None, alias="Currency", description="None: any currency."
    )
    attributes: ViewAutomaticSettlementDetailsCSVAttributes = Field(
        default_factory=ViewAutomaticSettlementDetailsCSVAttributes, alias="Attributes"
    )

    @classmethod
    def parse_result(cls, data: Any) -> ViewAutomaticSettlementDetailsCSVResult:
        return parse_data(_SETTLEMENT, data, cls.method)


class ChargeRequest(TrustlyRequest[ChargeResult]):
    """Legacy direct debit of an AccountID with an approved mandate."""

    method: ClassVar[str] = "Charge"

    account_id: NumericID = Field(alias="AccountID")
    notification_url: NotificationURL = Field(alias="NotificationURL")
    end_user_id: Text = Field(alias="EndUserID")
    message_id: Text = Field(alias="MessageID")
    amount: Amount = Field(alias="Amount")
    currency: Currency = Field(alias="Currency")
    attributes: ChargeAttributes = Field(alias="Attributes")

    @model_validator(mode="after")
    def _check_amount(self) -> Self:
        check_amount(self.amount, self.currency)
        return self

    @classmethod
    def parse_result(cls, data: Any) -> ChargeResult:
        return parse_data(_CHARGE, data, cls.method)


class CancelChargeRequest(TrustlyRequest[CancelChargeResult]):
    """Cancel a Charge whose PaymentDate is still ahead."""

    method: ClassVar[str] = "CancelCharge"

    order_id: NumericID = Field(alias="OrderID")

    @classmethod
    def parse_result(cls, data: Any) -> CancelChargeResult:
        return parse_data(_CANCEL_CHARGE, data, cls.method)


REQUEST_TYPES: Final[tuple[type[TrustlyRequest[Any]], ...]] = (
    DepositRequest,
    SelectAccountRequest,
    WithdrawRequest,
    AccountPayoutRequest,
    RegisterAccountRequest,
    RefundRequest,
    ApproveWithdrawalRequest,
    DenyWithdrawalRequest,
    GetWithdrawalsRequest,
    BalanceRequest,
    AccountLedgerRequest,
    ViewAutomaticSettlementDetailsCSVRequest,
    ChargeRequest,
    CancelChargeRequest,
)
"""Every method this SDK has a typed request for."""

REQUEST_TYPE_BY_METHOD: Final[dict[str, type[TrustlyRequest[Any]]]] = {
    request.method: request for request in REQUEST_TYPES
}
