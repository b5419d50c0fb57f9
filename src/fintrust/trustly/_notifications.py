"""Incoming notifications: parse, verify, type; and the signed reply (protocol spec §4).

The signature is checked over ``params.data`` exactly as received, before any model is built.
Typed models keep every field Trustly sent (Trustly adds fields without notice), and a method this
SDK does not know is parsed as :class:`UnknownNotificationData`, never rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from pydantic import Field, ValidationError

from fintrust.trustly._amount import format_amount
from fintrust.trustly._envelope import build_result, decode_json, signed_part
from fintrust.trustly._errors import (
    InvalidNotificationError,
    InvalidSignatureError,
    SerializationError,
)
from fintrust.trustly._model import TrustlyResult, WireAmount
from fintrust.trustly._signing import Signer, Verifier

__all__ = [
    "NOTIFICATION_METHODS",
    "VALID_REPLY_STATUSES",
    "AccountNotificationData",
    "CancelNotificationData",
    "CreditNotificationData",
    "DebitNotificationData",
    "KYCNotificationData",
    "Notification",
    "NotificationData",
    "NotificationReply",
    "PayoutConfirmationNotificationData",
    "PayoutFailedNotificationData",
    "PendingNotificationData",
    "UnknownNotificationData",
    "build_notification_reply",
    "parse_notification",
    "read_notification_reply",
]


class NotificationData(TrustlyResult):
    """Fields every notification carries. All others are kept in ``model_extra``."""

    notification_id: str = Field(alias="notificationid")
    order_id: str | None = Field(default=None, alias="orderid")
    message_id: str | None = Field(default=None, alias="messageid")
    end_user_id: str | None = Field(default=None, alias="enduserid")
    timestamp: str | None = None
    attributes: dict[str, Any] | None = None


class _MoneyNotificationData(NotificationData):
    amount: WireAmount
    currency: str


class PendingNotificationData(_MoneyNotificationData):
    """The end user finished the checkout; the money has not arrived. Never credit on this."""


class CreditNotificationData(_MoneyNotificationData):
    """Increase the end user's balance: a deposit arrived, or a payout came back."""


class DebitNotificationData(_MoneyNotificationData):
    """Decrease the end user's balance: a credited deposit did not settle, or a Withdraw."""


class PayoutConfirmationNotificationData(_MoneyNotificationData):
    """The bank confirmed the payout was sent."""


class PayoutFailedNotificationData(_MoneyNotificationData):
    """Why a payout failed or was returned."""

    error_code: str | None = Field(default=None, alias="errorcode")
    error_message: str | None = Field(default=None, alias="errormessage")


class CancelNotificationData(NotificationData):
    """The order was cancelled (abandoned, closed, failed); it carries no amount."""


class AccountNotificationData(NotificationData):
    """The bank account used in the order; ``account_id`` is the payout destination."""

    account_id: str = Field(alias="accountid")
    verified: str | None = None

    @property
    def is_verified(self) -> bool:
        return self.verified == "1"


class KYCNotificationData(NotificationData):
    """Identity data before a Pay N Play deposit; reply CONTINUE or FINISH."""

    kyc_entity_id: str | None = Field(default=None, alias="kycentityid")


class UnknownNotificationData(TrustlyResult):
    """A method this SDK does not know. Nothing is assumed of its shape; every field is kept in
    ``model_extra``, and the usual identifiers are offered when they are there."""

    def _text(self, key: str) -> str | None:
        value = (self.model_extra or {}).get(key)
        return value if isinstance(value, str) else None

    @property
    def notification_id(self) -> str | None:
        return self._text("notificationid")

    @property
    def order_id(self) -> str | None:
        return self._text("orderid")

    @property
    def message_id(self) -> str | None:
        return self._text("messageid")


_DATA_TYPES: Final[dict[str, type[NotificationData]]] = {
    "pending": PendingNotificationData,
    "credit": CreditNotificationData,
    "debit": DebitNotificationData,
    "cancel": CancelNotificationData,
    "account": AccountNotificationData,
    "payoutconfirmation": PayoutConfirmationNotificationData,
    "payoutfailed": PayoutFailedNotificationData,
    "kyc": KYCNotificationData,
}
NOTIFICATION_METHODS: Final = tuple(_DATA_TYPES)

VALID_REPLY_STATUSES: Final[dict[str, frozenset[str]]] = {
    method: frozenset({"OK"}) for method in NOTIFICATION_METHODS
} | {"debit": frozenset({"OK", "FAILED"}), "kyc": frozenset({"CONTINUE", "FINISH", "OK"})}
"""Statuses Trustly documents per method (spec §4.3); unknown methods are answered OK."""


@dataclass(frozen=True, slots=True)
class Notification:
    """A verified notification: ``data`` is typed; ``raw_data`` is ``params.data`` as received."""

    method: str
    uuid: str
    data: NotificationData | UnknownNotificationData
    raw_data: Mapping[str, Any] = field(repr=False)

    @property
    def notification_id(self) -> str | None:
        """Trustly's id of this notification; the same on every re-delivery."""
        return self.data.notification_id

    @property
    def order_id(self) -> str | None:
        return self.data.order_id

    @property
    def message_id(self) -> str | None:
        return self.data.message_id

    @property
    def is_known_method(self) -> bool:
        return self.method in _DATA_TYPES


def parse_notification(body: bytes | str | Mapping[str, Any], verifier: Verifier) -> Notification:
    """Parse and verify a notification (the raw request body, or its parsed JSON).

    Raises :class:`InvalidNotificationError` for anything malformed and
    :class:`InvalidSignatureError` when the signature does not verify; nothing is believed then.
    Pass bytes when you can: parsed JSON must come from :func:`decode_json` so that numbers keep
    the exact text that was signed.
    """
    try:
        message = decode_json(body) if isinstance(body, bytes | str) else body
        part = signed_part(message)
    except ValueError as exc:
        raise InvalidNotificationError(f"not a JSON-RPC notification: {exc}") from None
    except RecursionError:  # a few KB of "[[[[..." exhausts the parser's recursion
        raise InvalidNotificationError("not a JSON-RPC notification: nested too deeply") from None
    if part.kind != "notification" or message.get("version") != "1.1":
        raise InvalidNotificationError("not a JSON-RPC 1.1 notification (method, params, version)")
    if not part.method or not part.uuid or not isinstance(part.data, Mapping):
        raise InvalidNotificationError("a notification needs method, params.uuid and params.data")
    if not part.signature:
        raise InvalidSignatureError(f"{part.method} {part.uuid}: the notification is not signed")
    try:
        verified = verifier.verify(part.method, part.uuid, part.data, part.signature)
    except SerializationError as exc:
        raise InvalidNotificationError(f"{part.method} {part.uuid}: {exc}") from None
    if not verified:
        raise InvalidSignatureError(
            f"{part.method} {part.uuid}: signature does not verify with Trustly's public key "
            "(check that the key matches the environment)"
        )
    known = _DATA_TYPES.get(part.method)
    data: NotificationData | UnknownNotificationData
    try:
        if known is None:
            data = UnknownNotificationData.model_validate(part.data)
        else:
            data = known.model_validate(part.data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in exc.errors()
        )
        raise InvalidNotificationError(f"{part.method} {part.uuid}: {problems}") from None
    return Notification(method=part.method, uuid=part.uuid, data=data, raw_data=part.data)


def build_notification_reply(
    method: str,
    uuid: str,
    signer: Signer,
    status: str = "OK",
    *,
    limit: Decimal | None = None,
    currency: str = "EUR",
    message: str | None = None,
) -> bytes:
    """The signed JSON-RPC result answering a notification (same ``uuid`` and ``method``).

    ``status`` must be one Trustly documents for ``method``: ``OK``; ``OK``/``FAILED`` for debit;
    ``CONTINUE``/``FINISH`` for kyc, where CONTINUE may carry a ``limit``. The signature covers
    every field sent, ``message`` included.
    """
    allowed = VALID_REPLY_STATUSES.get(method, frozenset({"OK"}))
    if status not in allowed:
        raise ValueError(
            f"{status!r} is not a valid reply to {method}; use one of {sorted(allowed)}"
        )
    data: dict[str, str] = {"status": status}
    if limit is not None:
        if method != "kyc" or status != "CONTINUE":
            raise ValueError("a limit is only given with CONTINUE to a kyc notification")
        data["limit"] = format_amount(limit, currency)
    if message is not None:
        data["message"] = message
    return build_result(method, uuid, data, signer)


@dataclass(frozen=True, slots=True)
class NotificationReply:
    """A merchant's verified reply to a notification."""

    status: str
    limit: str | None = None
    message: str | None = None


def read_notification_reply(
    body: bytes | str, *, method: str, uuid: str, verifier: Verifier
) -> NotificationReply:
    """Check a merchant's reply the way Trustly does: a JSON-RPC result for the same uuid and
    method, signed by the merchant, with a status valid for the method.

    Raises :class:`InvalidNotificationError` (wrong shape, uuid, method or status) or
    :class:`InvalidSignatureError`.
    """
    try:
        message = decode_json(body)
        part = signed_part(message)
    except ValueError as exc:
        raise InvalidNotificationError(f"reply is not JSON-RPC: {exc}") from None
    if part.kind != "result" or not isinstance(part.data, Mapping):
        raise InvalidNotificationError("reply must be a JSON-RPC result with a data object")
    if part.uuid != uuid or part.method != method:
        raise InvalidNotificationError(
            f"reply is for {part.method} {part.uuid}, expected {method} {uuid}"
        )
    if not part.signature or not verifier.verify(part.method, part.uuid, part.data, part.signature):
        raise InvalidSignatureError(f"{method} {uuid}: reply signature does not verify")
    status = part.data.get("status")
    allowed = VALID_REPLY_STATUSES.get(method, frozenset({"OK"}))
    if status not in allowed:
        raise InvalidNotificationError(
            f"reply status {status!r} is not valid for {method}; expected one of {sorted(allowed)}"
        )
    limit, note = part.data.get("limit"), part.data.get("message")
    return NotificationReply(
        status=str(status),
        limit=limit if isinstance(limit, str) else None,
        message=note if isinstance(note, str) else None,
    )
