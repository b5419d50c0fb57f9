"""One exception hierarchy for everything the SDK raises (protocol spec §5).

Every error that Trustly can answer maps to its own class, grouped by what the caller should do:

* :class:`ConfigurationError` - fix credentials, keys, IP allow-list or contract; alert operators.
* :class:`RequestError` - fix the request; re-sending it unchanged will fail again.
* :class:`DuplicateError` - the UUID or MessageID was used before; reconcile, never re-number.
* :class:`UnknownOutcomeError` - the call may or may not have taken effect. Re-send the identical
  signed request (same UUID) or settle it from notifications / GetWithdrawals.
"""

from __future__ import annotations

import enum
from typing import Any, ClassVar

__all__ = [
    "API_ERRORS",
    "ConfigurationError",
    "DirectDebitNotAllowedError",
    "DisabledUserError",
    "DuplicateError",
    "DuplicateMessageIDError",
    "DuplicateUUIDError",
    "EndUserIDIsNullError",
    "EndUserIsBlockedError",
    "ErrorCategory",
    "FunctionAccessDeniedError",
    "HostAccessDeniedError",
    "InvalidAmountError",
    "InvalidBankAccountNumberError",
    "InvalidCountryError",
    "InvalidCredentialsError",
    "InvalidCurrencyCodeError",
    "InvalidEmailError",
    "InvalidFunctionError",
    "InvalidIPError",
    "InvalidLocaleError",
    "InvalidNotificationError",
    "InvalidOrderAttributeError",
    "InvalidOrderIDError",
    "InvalidParametersError",
    "InvalidSignatureError",
    "KeyLoadError",
    "MalformedEndUserIDError",
    "MalformedFailURLError",
    "MalformedMessageIDError",
    "MalformedNotificationURLError",
    "MalformedResponseError",
    "MalformedSuccessURLError",
    "MalformedTemplateURLError",
    "MalformedURLTargetError",
    "MerchantReferenceAlreadyExistsError",
    "MessageIDIsNullError",
    "NoPublicKeyError",
    "NoSuitableBankAccountFoundError",
    "NotFoundError",
    "NotSecureNotificationURLError",
    "PayAndPlayNotAllowedError",
    "RejectedError",
    "RequestError",
    "ResponseMismatchError",
    "ResponseSignatureError",
    "SerializationError",
    "ServerError",
    "TransportError",
    "TrustlyAPIError",
    "TrustlyError",
    "UnableToVerifyRSASignatureError",
    "UnknownError",
    "UnknownOutcomeError",
    "UnsignedErrorResponseError",
    "api_error_class",
]


class TrustlyError(Exception):
    """Base class of every exception raised by :mod:`fintrust.trustly`."""


class SerializationError(TrustlyError, TypeError):
    """A value cannot be signed (floats, booleans, non-JSON types)."""


class KeyLoadError(TrustlyError, ValueError):
    """A PEM key could not be read. The message never contains key material."""


class InvalidSignatureError(TrustlyError):
    """A message's signature does not verify with any accepted key."""


class InvalidNotificationError(TrustlyError):
    """An incoming notification is not a well-formed, verifiable Trustly notification."""


class ErrorCategory(enum.Enum):
    CONFIGURATION = "configuration"
    REQUEST = "request"
    DUPLICATE = "duplicate"
    UNKNOWN_OUTCOME = "unknown-outcome"


_ADVICE = {
    ErrorCategory.CONFIGURATION: "check credentials, keys and the Trustly contract; "
    "alert operators",
    ErrorCategory.REQUEST: "fix the request; sending it again unchanged will fail again",
    ErrorCategory.DUPLICATE: "the UUID or MessageID was used before; reconcile with the first "
    "request, never send the operation again under a new MessageID",
    ErrorCategory.UNKNOWN_OUTCOME: "the outcome is unknown; re-send the identical signed request "
    "(same UUID) or settle it from notifications and GetWithdrawals",
}


class TrustlyAPIError(TrustlyError):
    """An API call did not succeed. Carries Trustly's code and message, and our method and uuid."""

    category: ClassVar[ErrorCategory] = ErrorCategory.UNKNOWN_OUTCOME
    error_code: ClassVar[int | None] = None
    error_name: ClassVar[str | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        code: int | None = None,
        method: str | None = None,
        uuid: str | None = None,
        detail: str | None = None,
    ) -> None:
        self.code = code if code is not None else self.error_code
        self.message = message or self.error_name or type(self).__name__
        self.method = method
        self.uuid = uuid
        self.detail = detail
        super().__init__(str(self))

    @property
    def is_configuration_error(self) -> bool:
        return self.category is ErrorCategory.CONFIGURATION

    @property
    def is_request_error(self) -> bool:
        return self.category is ErrorCategory.REQUEST

    @property
    def is_duplicate_error(self) -> bool:
        return self.category is ErrorCategory.DUPLICATE

    @property
    def is_unknown_outcome(self) -> bool:
        """True when the call may have taken effect: re-send the same request, never a new one."""
        return self.category is ErrorCategory.UNKNOWN_OUTCOME

    def __str__(self) -> str:
        where = " ".join(part for part in (self.method, self.uuid) if part)
        code = f"{self.code} " if self.code is not None else ""
        detail = f" ({self.detail})" if self.detail else ""
        prefix = f"{where}: " if where else ""
        return f"{prefix}{code}{self.message}{detail}; {_ADVICE[self.category]}"

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {
            "code": self.code,
            "method": self.method,
            "uuid": self.uuid,
            "detail": self.detail,
        }
        return (_rebuild, (type(self), self.message, kwargs))


def _rebuild(cls: type[TrustlyAPIError], message: str, kwargs: dict[str, Any]) -> TrustlyAPIError:
    return cls(message, **kwargs)


class ConfigurationError(TrustlyAPIError):
    category = ErrorCategory.CONFIGURATION


class RequestError(TrustlyAPIError):
    category = ErrorCategory.REQUEST


class DuplicateError(TrustlyAPIError):
    category = ErrorCategory.DUPLICATE


class UnknownOutcomeError(TrustlyAPIError):
    category = ErrorCategory.UNKNOWN_OUTCOME


# Failures around the call rather than answers from Trustly.


class TransportError(UnknownOutcomeError):
    """The request may have reached Trustly but no answer came back (network error, timeout)."""


class ServerError(UnknownOutcomeError):
    """Trustly answered with an HTTP error status and no JSON-RPC body."""


class MalformedResponseError(UnknownOutcomeError):
    """The answer is not a JSON-RPC 1.1 response we can read."""


class ResponseSignatureError(UnknownOutcomeError, InvalidSignatureError):
    """The answer's signature does not verify: nothing in it can be believed."""


class ResponseMismatchError(UnknownOutcomeError):
    """The answer's uuid or method is not the request's: nothing in it can be believed."""


class UnsignedErrorResponseError(UnknownOutcomeError):
    """A JSON-level error without a signature: it cannot be verified, so the outcome is unknown."""


class RejectedError(RequestError):
    """A verified result with ``result: "0"``: Trustly received the call and refused it."""

    def __init__(
        self,
        reason: str | None,
        *,
        method: str | None = None,
        uuid: str | None = None,
        data: Any = None,
    ) -> None:
        self.reason = reason
        self.data = data
        super().__init__("rejected", method=method, uuid=uuid, detail=reason or "no reason given")


# Documented error codes (spec §5.2) and names without a known number (§5.3).


class FunctionAccessDeniedError(ConfigurationError):
    error_code, error_name = 602, "ERROR_FUNCTION_ACCESS_DENIED"


class HostAccessDeniedError(ConfigurationError):
    error_code, error_name = 607, "ERROR_HOST_ACCESS_DENIED"


class InvalidAmountError(RequestError):
    error_code, error_name = 615, "ERROR_INVALID_AMOUNT"


class InvalidCredentialsError(ConfigurationError):
    error_code, error_name = 616, "ERROR_INVALID_CREDENTIALS"


class UnknownError(UnknownOutcomeError):
    error_code, error_name = 620, "ERROR_UNKNOWN"


class InvalidCurrencyCodeError(RequestError):
    error_code, error_name = 622, "ERROR_INVALID_CURRENCY_CODE"


class InvalidParametersError(RequestError):
    error_code, error_name = 623, "ERROR_INVALID_PARAMETERS"


class InvalidBankAccountNumberError(RequestError):
    error_code, error_name = 624, "ERROR_INVALID_BANK_ACCOUNT_NUMBER"


class UnableToVerifyRSASignatureError(ConfigurationError):
    error_code, error_name = 636, "ERROR_UNABLE_TO_VERIFY_RSA_SIGNATURE"


class DuplicateMessageIDError(DuplicateError):
    error_code, error_name = 637, "ERROR_DUPLICATE_MESSAGE_ID"


class EndUserIsBlockedError(RequestError):
    error_code, error_name = 638, "ERROR_ENDUSER_IS_BLOCKED"


class NoPublicKeyError(ConfigurationError):
    error_code, error_name = 639, "ERROR_NO_PUBLIC_KEY"


class InvalidEmailError(RequestError):
    error_code, error_name = 642, "ERROR_INVALID_EMAIL"


class InvalidLocaleError(RequestError):
    error_code, error_name = 645, "ERROR_INVALID_LOCALE"


class InvalidOrderIDError(RequestError):
    error_code, error_name = 655, "ERROR_INVALID_ORDER_ID"


class DuplicateUUIDError(DuplicateError):
    error_code, error_name = 688, "ERROR_DUPLICATE_UUID"


class EndUserIDIsNullError(RequestError):
    error_code, error_name = 696, "ERROR_ENDUSERID_IS_NULL"


class MessageIDIsNullError(RequestError):
    error_code, error_name = 697, "ERROR_MESSAGEID_IS_NULL"


class InvalidIPError(RequestError):
    error_code, error_name = 698, "ERROR_INVALID_IP"


class MalformedSuccessURLError(RequestError):
    error_code, error_name = 700, "ERROR_MALFORMED_SUCCESSURL"


class MalformedFailURLError(RequestError):
    error_code, error_name = 701, "ERROR_MALFORMED_FAILURL"


class MalformedTemplateURLError(RequestError):
    error_code, error_name = 702, "ERROR_MALFORMED_TEMPLATEURL"


class MalformedURLTargetError(RequestError):
    error_code, error_name = 703, "ERROR_MALFORMED_URLTARGET"


class MalformedMessageIDError(RequestError):
    error_code, error_name = 704, "ERROR_MALFORMED_MESSAGEID"


class MalformedNotificationURLError(RequestError):
    error_code, error_name = 705, "ERROR_MALFORMED_NOTIFICATIONURL"


class MalformedEndUserIDError(RequestError):
    error_code, error_name = 706, "ERROR_MALFORMED_ENDUSERID"


class DirectDebitNotAllowedError(ConfigurationError):
    error_code, error_name = 712, "ERROR_DIRECT_DEBIT_NOT_ALLOWED"


class InvalidOrderAttributeError(RequestError):
    error_code, error_name = 717, "ERROR_INVALID_ORDER_ATTRIBUTE"


class DisabledUserError(ConfigurationError):
    error_code, error_name = 718, "ERROR_DISABLED_USER"


class PayAndPlayNotAllowedError(ConfigurationError):
    error_code, error_name = 732, "ERROR_PAY_AND_PLAY_NOT_ALLOWED"


class NotSecureNotificationURLError(RequestError):
    error_code, error_name = 734, "ERROR_NOT_SECURE_NOTIFICATIONURL"


class InvalidCountryError(RequestError):
    error_code, error_name = 737, "ERROR_INVALID_COUNTRY"


class NotFoundError(RequestError):
    error_name = "ERROR_NOT_FOUND"


class InvalidFunctionError(RequestError):
    error_name = "ERROR_INVALID_FUNCTION"


class NoSuitableBankAccountFoundError(RequestError):
    error_name = "ERROR_NO_SUITABLE_BANK_ACCOUNT_FOUND"


class MerchantReferenceAlreadyExistsError(DuplicateError):
    error_name = "ERROR_MERCHANT_REFERENCE_ALREADY_EXISTS"


API_ERRORS: tuple[type[TrustlyAPIError], ...] = (
    FunctionAccessDeniedError,
    HostAccessDeniedError,
    InvalidAmountError,
    InvalidCredentialsError,
    UnknownError,
    InvalidCurrencyCodeError,
    InvalidParametersError,
    InvalidBankAccountNumberError,
    UnableToVerifyRSASignatureError,
    DuplicateMessageIDError,
    EndUserIsBlockedError,
    NoPublicKeyError,
    InvalidEmailError,
    InvalidLocaleError,
    InvalidOrderIDError,
    DuplicateUUIDError,
    EndUserIDIsNullError,
    MessageIDIsNullError,
    InvalidIPError,
    MalformedSuccessURLError,
    MalformedFailURLError,
    MalformedTemplateURLError,
    MalformedURLTargetError,
    MalformedMessageIDError,
    MalformedNotificationURLError,
    MalformedEndUserIDError,
    DirectDebitNotAllowedError,
    InvalidOrderAttributeError,
    DisabledUserError,
    PayAndPlayNotAllowedError,
    NotSecureNotificationURLError,
    InvalidCountryError,
    NotFoundError,
    InvalidFunctionError,
    NoSuitableBankAccountFoundError,
    MerchantReferenceAlreadyExistsError,
)
"""Every documented Trustly error, one class each (spec §5.2 and §5.3)."""

_BY_CODE = {cls.error_code: cls for cls in API_ERRORS if cls.error_code is not None}
_BY_NAME = {cls.error_name: cls for cls in API_ERRORS if cls.error_name is not None}


def api_error_class(code: int | None, message: str | None) -> type[TrustlyAPIError]:
    """The class for an error Trustly answered, by name first (the more specific: some errors
    have no documented number and travel with a catch-all code), then by code.

    An undocumented error is an :class:`UnknownOutcomeError`: without knowing what it means,
    the only safe assumption is that the call might have taken effect.
    """
    if message is not None and message in _BY_NAME:
        return _BY_NAME[message]
    if code is not None and code in _BY_CODE:
        return _BY_CODE[code]
    return UnknownOutcomeError
