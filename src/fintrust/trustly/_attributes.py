"""``Attributes`` objects and shared field types of the typed requests (methods spec §2)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from fintrust.trustly._model import Amount, Currency, TrustlyAttributes, check_amount
from fintrust.trustly._results import Flag, NumericID

__all__ = [
    "AccountPayoutAttributes",
    "ChargeAttributes",
    "CountryCode",
    "DepositAttributes",
    "Locale",
    "NotificationURL",
    "PartyInformation",
    "RecipientInformation",
    "RefundAttributes",
    "RegisterAccountAttributes",
    "SelectAccountAttributes",
    "SenderInformation",
    "SendsNull",
    "Text",
    "URLTarget",
    "ViewAutomaticSettlementDetailsCSVAttributes",
    "WithdrawAttributes",
    "check_amounts",
]

Text = Annotated[str, Field(min_length=1)]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Locale = Annotated[str, Field(pattern=r"^[a-z]{2}(_[A-Z]{2})?$")]
# Trustly refuses a NotificationURL with a query string; put the secret in the path instead.
NotificationURL = Annotated[str, Field(min_length=1, pattern=r"^[^?]+$")]
URLTarget = Literal["_top", "_self", "_parent"]


class SendsNull(BaseModel):
    """Sends the fields named in ``_null_fields`` as JSON null when they are ``None``."""

    _null_fields: ClassVar[tuple[str, ...]] = ()

    @model_serializer(mode="wrap")
    def _add_nulls(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        for name in self._null_fields:
            if getattr(self, name) is None:
                alias = type(self).model_fields[name].alias
                data[alias if info.by_alias and alias else name] = None
        return data


def check_amounts(
    currency: str, fixed: Decimal | None, low: Decimal | None, high: Decimal | None, fixed_name: str
) -> None:
    for amount in (fixed, low, high):
        check_amount(amount, currency)
    if fixed is not None and (low is not None or high is not None):
        raise ValueError(
            f"{fixed_name} fixes the amount; do not combine it with "
            "SuggestedMinAmount/SuggestedMaxAmount"
        )
    if low is not None and high is not None and low > high:
        raise ValueError("SuggestedMinAmount is greater than SuggestedMaxAmount")


class PartyInformation(SendsNull):
    """RecipientInformation (Deposit) or SenderInformation (payouts): ultimate payee or payer.

    For an ORGANISATION, ``firstname`` is its name, ``lastname`` is None (sent as null, as the
    docs show) and ``date_of_birth`` carries the organisation number.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid", frozen=True)
    _null_fields = ("lastname",)

    party_type: Literal["PERSON", "ORGANISATION"] = Field(alias="Partytype")
    firstname: Text = Field(alias="Firstname")
    lastname: str | None = Field(default=None, alias="Lastname")
    country_code: CountryCode = Field(alias="CountryCode")
    customer_id: str | None = Field(default=None, alias="CustomerID")
    address: str | None = Field(default=None, alias="Address")
    date_of_birth: date | str | None = Field(default=None, alias="DateOfBirth")

    @model_validator(mode="after")
    def _person_has_lastname(self) -> Self:
        if self.party_type == "PERSON" and not self.lastname:
            raise ValueError("a PERSON needs a lastname (only an ORGANISATION has none)")
        return self


RecipientInformation = PartyInformation
SenderInformation = PartyInformation


class _PSPAttributes(TrustlyAttributes):
    # Mandatory for Express Merchant Onboarding partners and e-wallets. The methods spec says
    # the Java client sends "pspMerchant" in some methods; the docs (and Java's own fixtures)
    # spell it "PSPMerchant", which is what is sent here.
    psp_merchant: str | None = Field(default=None, alias="PSPMerchant")
    psp_merchant_url: str | None = Field(default=None, alias="PSPMerchantURL")
    merchant_category_code: str | None = Field(default=None, alias="MerchantCategoryCode")


class _CheckoutAttributes(_PSPAttributes):
    """Attributes shared by the checkout methods (Deposit, Withdraw, SelectAccount)."""

    locale: Locale = Field(alias="Locale")
    country: CountryCode = Field(alias="Country")
    firstname: str | None = Field(default=None, alias="Firstname")
    lastname: str | None = Field(default=None, alias="Lastname")
    email: str | None = Field(default=None, alias="Email")
    mobile_phone: str | None = Field(default=None, alias="MobilePhone")
    national_identification_number: str | None = Field(
        default=None, alias="NationalIdentificationNumber"
    )
    unchangeable_national_identification_number: Flag | None = Field(
        default=None, alias="UnchangeableNationalIdentificationNumber"
    )
    ip: str | None = Field(default=None, alias="IP")
    success_url: str | None = Field(default=None, alias="SuccessURL")
    fail_url: str | None = Field(default=None, alias="FailURL")
    template_url: str | None = Field(default=None, alias="TemplateURL")
    url_target: URLTarget | None = Field(default=None, alias="URLTarget")
    url_scheme: str | None = Field(default=None, alias="URLScheme")
    shopper_statement: str | None = Field(default=None, alias="ShopperStatement")
    hold_notifications: Flag | None = Field(default=None, alias="HoldNotifications")


class DepositAttributes(_CheckoutAttributes):
    """Deposit ``Attributes``. Give ``amount`` or the suggested bounds, never both."""

    currency: Currency = Field(alias="Currency")
    firstname: str = Field(alias="Firstname")
    lastname: str = Field(alias="Lastname")
    amount: Amount | None = Field(default=None, alias="Amount")
    suggested_min_amount: Amount | None = Field(default=None, alias="SuggestedMinAmount")
    suggested_max_amount: Amount | None = Field(default=None, alias="SuggestedMaxAmount")
    account_id: NumericID | None = Field(default=None, alias="AccountID")
    request_kyc: Flag | None = Field(default=None, alias="RequestKYC")
    recipient_information: PartyInformation | None = Field(
        default=None, alias="RecipientInformation"
    )
    external_reference: str | None = Field(default=None, alias="ExternalReference")
    shipping_address_country: CountryCode | None = Field(
        default=None, alias="ShippingAddressCountry"
    )
    shipping_address_postal_code: str | None = Field(
        default=None, alias="ShippingAddressPostalCode"
    )
    shipping_address_city: str | None = Field(default=None, alias="ShippingAddressCity")
    shipping_address_line1: str | None = Field(default=None, alias="ShippingAddressLine1")
    shipping_address_line2: str | None = Field(default=None, alias="ShippingAddressLine2")
    shipping_address: str | None = Field(default=None, alias="ShippingAddress")
    method: str | None = Field(default=None, alias="Method")
    return_to_app_url: str | None = Field(default=None, alias="ReturnToAppURL")
    integration_module: str | None = Field(default=None, alias="IntegrationModule")
    # Legacy Trustly Direct Debit. Java sends QuickDeposit as a number; the docs' flag format
    # ("1"/"0") is used for every flag here.
    request_direct_debit_mandate: Flag | None = Field(
        default=None, alias="RequestDirectDebitMandate"
    )
    charge_account_id: NumericID | None = Field(default=None, alias="ChargeAccountID")
    quick_deposit: Flag | None = Field(default=None, alias="QuickDeposit")

    @model_validator(mode="after")
    def check_amounts(self) -> Self:
        check_amounts(
            self.currency,
            self.amount,
            self.suggested_min_amount,
            self.suggested_max_amount,
            "Amount",
        )
        return self


class SelectAccountAttributes(_CheckoutAttributes):
    """SelectAccount ``Attributes``."""

    date_of_birth: date | None = Field(default=None, alias="DateOfBirth")
    request_direct_debit_mandate: Flag | None = Field(
        default=None, alias="RequestDirectDebitMandate"
    )


class WithdrawAttributes(_CheckoutAttributes):
    """Withdraw ``Attributes``; the amounts are checked against the request's ``Currency``."""

    date_of_birth: date | None = Field(default=None, alias="DateOfBirth")
    suggested_amount: Amount | None = Field(default=None, alias="SuggestedAmount")
    suggested_min_amount: Amount | None = Field(default=None, alias="SuggestedMinAmount")
    suggested_max_amount: Amount | None = Field(default=None, alias="SuggestedMaxAmount")
    address_country: CountryCode | None = Field(default=None, alias="AddressCountry")
    address_postal_code: str | None = Field(default=None, alias="AddressPostalCode")
    address_city: str | None = Field(default=None, alias="AddressCity")
    address_line1: str | None = Field(default=None, alias="AddressLine1")
    address_line2: str | None = Field(default=None, alias="AddressLine2")
    address: str | None = Field(default=None, alias="Address")
    external_reference: str | None = Field(default=None, alias="ExternalReference")
    sender_information: PartyInformation | None = Field(default=None, alias="SenderInformation")
    # Pre-fill of the receiving account, sent by the PHP and Python clients.
    clearing_house: str | None = Field(default=None, alias="ClearingHouse")
    bank_number: str | None = Field(default=None, alias="BankNumber")
    account_number: str | None = Field(default=None, alias="AccountNumber")


class AccountPayoutAttributes(_PSPAttributes):
    """AccountPayout ``Attributes``. ``sender_information`` is mandatory for money transfer."""

    shopper_statement: Text = Field(alias="ShopperStatement")
    sender_information: PartyInformation | None = Field(default=None, alias="SenderInformation")
    external_reference: str | None = Field(default=None, alias="ExternalReference")
    hold_notifications: Flag | None = Field(default=None, alias="HoldNotifications")


class RegisterAccountAttributes(TrustlyAttributes):
    """RegisterAccount ``Attributes`` (all optional, used for KYC/AML)."""

    date_of_birth: date | None = Field(default=None, alias="DateOfBirth")
    mobile_phone: str | None = Field(default=None, alias="MobilePhone")
    national_identification_number: str | None = Field(
        default=None, alias="NationalIdentificationNumber"
    )
    address_country: CountryCode | None = Field(default=None, alias="AddressCountry")
    address_postal_code: str | None = Field(default=None, alias="AddressPostalCode")
    address_city: str | None = Field(default=None, alias="AddressCity")
    address_line1: str | None = Field(default=None, alias="AddressLine1")
    address_line2: str | None = Field(default=None, alias="AddressLine2")
    address: str | None = Field(default=None, alias="Address")
    email: str | None = Field(default=None, alias="Email")


class RefundAttributes(TrustlyAttributes):
    """Refund ``Attributes``."""

    external_reference: str | None = Field(default=None, alias="ExternalReference")


class ChargeAttributes(_PSPAttributes):
    """Charge ``Attributes`` (legacy direct debit)."""

    # Only the first 7 characters reach the statement, and only these characters are allowed.
    shopper_statement: str = Field(alias="ShopperStatement", pattern=r"^[A-Za-z0-9 ._-]+$")
    email: Text = Field(alias="Email")
    payment_date: date | None = Field(default=None, alias="PaymentDate")
    external_reference: str | None = Field(default=None, alias="ExternalReference")


class ViewAutomaticSettlementDetailsCSVAttributes(TrustlyAttributes):
    """Settlement report ``Attributes``; new merchants must use report version 1.2."""

    api_version: str = Field(default="1.2", alias="APIVersion")
