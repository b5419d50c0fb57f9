"""fintrust.trustly: a typed SDK for Trustly's EMEA JSON-RPC 1.1 API.

Signing is byte-exact with Trustly (checked against messages signed by Trustly's TEST key);
everything from Trustly is verified before it is believed. See ``docs/sdk.md``.
"""

from fintrust.trustly import _errors, _methods
from fintrust.trustly._amount import currency_exponent, format_amount, parse_amount
from fintrust.trustly._client import (
    DEFAULT_TIMEOUT,
    AsyncTrustlyClient,
    PreparedCall,
    TrustlyClient,
)
from fintrust.trustly._envelope import (
    SignedPart,
    build_error,
    build_notification,
    build_request,
    build_result,
    decode_json,
    encode_json,
    read_response,
    signed_part,
    verify_message,
)
from fintrust.trustly._errors import *  # noqa: F403 - the whole hierarchy is public
from fintrust.trustly._keys import (
    Environment,
    generate_key_pair,
    load_private_key,
    load_public_key,
    trustly_public_key_pem,
    write_key_pair,
)
from fintrust.trustly._methods import *  # noqa: F403 - one request and result per method
from fintrust.trustly._notifications import (
    NOTIFICATION_METHODS,
    VALID_REPLY_STATUSES,
    AccountNotificationData,
    CancelNotificationData,
    CreditNotificationData,
    DebitNotificationData,
    KYCNotificationData,
    Notification,
    NotificationData,
    NotificationReply,
    PayoutConfirmationNotificationData,
    PayoutFailedNotificationData,
    PendingNotificationData,
    UnknownNotificationData,
    build_notification_reply,
    parse_notification,
    read_notification_reply,
)
from fintrust.trustly._serialize import serialize
from fintrust.trustly._signing import Signer, Verifier, plaintext

__all__ = [
    "DEFAULT_TIMEOUT",
    "NOTIFICATION_METHODS",
    "VALID_REPLY_STATUSES",
    "AccountNotificationData",
    "AsyncTrustlyClient",
    "CancelNotificationData",
    "CreditNotificationData",
    "DebitNotificationData",
    "Environment",
    "KYCNotificationData",
    "Notification",
    "NotificationData",
    "NotificationReply",
    "PayoutConfirmationNotificationData",
    "PayoutFailedNotificationData",
    "PendingNotificationData",
    "PreparedCall",
    "SignedPart",
    "Signer",
    "TrustlyClient",
    "UnknownNotificationData",
    "Verifier",
    "build_error",
    "build_notification",
    "build_notification_reply",
    "build_request",
    "build_result",
    "currency_exponent",
    "decode_json",
    "encode_json",
    "format_amount",
    "generate_key_pair",
    "load_private_key",
    "load_public_key",
    "parse_amount",
    "parse_notification",
    "plaintext",
    "read_notification_reply",
    "read_response",
    "serialize",
    "signed_part",
    "trustly_public_key_pem",
    "verify_message",
    "write_key_pair",
]
__all__ += _errors.__all__
__all__ += _methods.__all__
