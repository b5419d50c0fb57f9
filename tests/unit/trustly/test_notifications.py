"""Parsing, verifying and answering notifications."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from fintrust.trustly import (
    AccountNotificationData,
    CancelNotificationData,
    CreditNotificationData,
    DebitNotificationData,
    InvalidNotificationError,
    InvalidSignatureError,
    KYCNotificationData,
    PayoutConfirmationNotificationData,
    PayoutFailedNotificationData,
    PendingNotificationData,
    UnknownNotificationData,
    build_notification,
    build_notification_reply,
    build_result,
    parse_notification,
    read_notification_reply,
)
from tests.conftest import KeyPair, load_vector

UUID = "258a2184-2842-b485-25ca-293525152425"
JAVA = "messages/java-client/notifications"


def _resign(relative: str, keys: KeyPair) -> bytes:
    """A fixture's exact shape, signed by the test key (its own signature is a placeholder)."""
    message = load_vector(relative)
    params = message["params"]
    return build_notification(message["method"], params["uuid"], params["data"], keys.signer)


@pytest.mark.parametrize(
    ("fixture", "data_type"),
    [
        ("pending.json", PendingNotificationData),
        ("credit.json", CreditNotificationData),
        ("debit.json", DebitNotificationData),
        ("cancel.json", CancelNotificationData),
        ("account.json", AccountNotificationData),
        ("payoutconfirmation.json", PayoutConfirmationNotificationData),
        ("_unknown.json", UnknownNotificationData),
    ],
)
def test_java_fixture_shapes_parse_to_their_types(
    trustly_keys: KeyPair, fixture: str, data_type: type[Any]
) -> None:
    raw = load_vector(f"{JAVA}/{fixture}")["params"]["data"]
    notification = parse_notification(
        _resign(f"{JAVA}/{fixture}", trustly_keys), trustly_keys.verifier
    )
    assert isinstance(notification.data, data_type)
    assert notification.raw_data == raw
    assert notification.notification_id == raw.get("notificationid")
    assert notification.order_id == raw.get("orderid")
    assert notification.message_id == raw.get("messageid")
    if "amount" in raw:
        assert notification.data.amount == Decimal(raw["amount"])  # type: ignore[union-attr]


def test_account_notification_carries_the_payout_destination(trustly_keys: KeyPair) -> None:
    notification = parse_notification(
        _resign(f"{JAVA}/account.json", trustly_keys), trustly_keys.verifier
    )
    assert isinstance(notification.data, AccountNotificationData)
    assert notification.data.account_id == "1234567890"
    assert notification.data.is_verified
    assert notification.data.attributes == {
        "clearinghouse": "SWEDEN",
        "bank": "SEB",
        "descriptor": "**** *084057",
        "lastdigits": "084057",
    }


def _notification(method: str, data: dict[str, Any], keys: KeyPair) -> bytes:
    return build_notification(method, UUID, data, keys.signer)


def test_unknown_fields_and_methods_are_kept_never_rejected(trustly_keys: KeyPair) -> None:
    data = {"notificationid": "1", "orderid": "2", "brandnew": {"x": ["1", "2"]}, "messageid": 3}
    notification = parse_notification(
        _notification("refundsettled", data, trustly_keys), trustly_keys.verifier
    )
    assert isinstance(notification.data, UnknownNotificationData)
    assert not notification.is_known_method
    assert notification.data.model_extra == data
    assert (notification.notification_id, notification.order_id) == ("1", "2")
    assert notification.message_id is None  # an integer is not an id we can trust to be one
    credit = {
        "notificationid": "9",
        "amount": "5.00",
        "currency": "EUR",
        "orderid": "1",
        "messageid": "m",
        "newfield": "kept",
    }
    parsed = parse_notification(
        _notification("credit", credit, trustly_keys), trustly_keys.verifier
    )
    assert parsed.data.model_extra == {"newfield": "kept"}


def test_payoutfailed_and_kyc_fields(trustly_keys: KeyPair) -> None:
    failed = {
        "notificationid": "1",
        "orderid": "2",
        "messageid": "p-1",
        "amount": "10.00",
        "currency": "SEK",
        "errorcode": "incorrect_account_number",
        "errormessage": "Format of the account number specified is not correct",
    }
    parsed = parse_notification(
        _notification("payoutfailed", failed, trustly_keys), trustly_keys.verifier
    )
    assert isinstance(parsed.data, PayoutFailedNotificationData)
    assert parsed.data.error_code == "incorrect_account_number"
    kyc = {
        "notificationid": "3",
        "orderid": "4",
        "messageid": "d",
        "kycentityid": "k",
        "attributes": {"dob": "1990-01-01"},
    }
    parsed = parse_notification(_notification("kyc", kyc, trustly_keys), trustly_keys.verifier)
    assert isinstance(parsed.data, KYCNotificationData)
    assert parsed.data.kyc_entity_id == "k"


def test_verification_uses_the_data_as_received_with_exact_numbers(trustly_keys: KeyPair) -> None:
    # A peer that sends a JSON number must be checked over the number's own text ("902.50").
    data = {"notificationid": "1", "orderid": "2", "amount": "902.50", "currency": "EUR"}
    signature = trustly_keys.signer.sign("credit", UUID, data)
    body = json.dumps(
        {
            "method": "credit",
            "params": {"signature": signature, "uuid": UUID, "data": data},
            "version": "1.1",
        }
    ).replace('"902.50"', "902.50")
    parsed = parse_notification(body.encode(), trustly_keys.verifier)
    assert parsed.data.amount == Decimal("902.50")  # type: ignore[union-attr]
    # Parsed with plain json.loads the number is a float and cannot be checked exactly.
    with pytest.raises(InvalidNotificationError, match="floats"):
        parse_notification(json.loads(body), trustly_keys.verifier)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda m: m["params"]["data"].update(amount="9999.00"),
        lambda m: m["params"].update(uuid="00000000-0000-0000-0000-000000000000"),
        lambda m: m.update(method="debit"),
        lambda m: m["params"].update(signature="AAAA"),
        lambda m: m["params"].pop("signature"),
    ],
)
def test_any_change_or_missing_signature_is_refused(trustly_keys: KeyPair, mutate: Any) -> None:
    data = {"notificationid": "1", "orderid": "2", "amount": "10.00", "currency": "EUR"}
    message = json.loads(_notification("credit", data, trustly_keys))
    mutate(message)
    with pytest.raises(InvalidSignatureError):
        parse_notification(json.dumps(message).encode(), trustly_keys.verifier)


def test_a_notification_signed_by_another_key_is_refused(
    trustly_keys: KeyPair, merchant_keys: KeyPair
) -> None:
    body = _notification(
        "credit", {"notificationid": "1", "amount": "1.00", "currency": "EUR"}, merchant_keys
    )
    with pytest.raises(InvalidSignatureError, match="environment"):
        parse_notification(body, trustly_keys.verifier)


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"method": "credit", "params": {"uuid": "u", "data": {}, "signature": "x"}}',
        b'{"version": "1.1", "method": "credit", '
        b'"params": {"uuid": "u", "data": [], "signature": "x"}}',
        b'{"version": "1.1", "result": {"uuid": "u"}}',
    ],
)
def test_malformed_bodies_are_refused(trustly_keys: KeyPair, body: bytes) -> None:
    with pytest.raises(InvalidNotificationError):
        parse_notification(body, trustly_keys.verifier)


def test_deeply_nested_json_is_refused_not_crashed(trustly_keys: KeyPair) -> None:
    with pytest.raises(InvalidNotificationError, match="nested too deeply"):
        parse_notification(b"[" * 100_000 + b"]" * 100_000, trustly_keys.verifier)


def test_a_known_method_missing_its_fields_is_refused_after_verification(
    trustly_keys: KeyPair,
) -> None:
    body = _notification(
        "credit", {"notificationid": "1", "amount": "ten", "currency": "EUR"}, trustly_keys
    )
    with pytest.raises(InvalidNotificationError, match="amount"):
        parse_notification(body, trustly_keys.verifier)
    body = _notification("account", {"orderid": "1"}, trustly_keys)
    with pytest.raises(InvalidNotificationError, match="notificationid"):
        parse_notification(body, trustly_keys.verifier)


def test_reply_matches_the_java_and_net_vectors_shape(merchant_keys: KeyPair) -> None:
    body = build_notification_reply("credit", UUID, merchant_keys.signer)
    reply = json.loads(body)
    assert reply["version"] == "1.1"
    assert reply["result"]["uuid"] == UUID
    assert reply["result"]["method"] == "credit"
    assert reply["result"]["data"] == {"status": "OK"}
    assert merchant_keys.verifier.verify(
        "credit", UUID, {"status": "OK"}, reply["result"]["signature"]
    )


@pytest.mark.parametrize(
    ("method", "status", "extra"),
    [
        ("debit", "FAILED", {"message": "balance too low"}),
        ("kyc", "CONTINUE", {"limit": Decimal("100")}),
        ("kyc", "FINISH", {}),
        ("brandnew", "OK", {}),
    ],
)
def test_replies_with_other_statuses_are_signed_over_everything_sent(
    merchant_keys: KeyPair, method: str, status: str, extra: dict[str, Any]
) -> None:
    body = build_notification_reply(method, UUID, merchant_keys.signer, status, **extra)
    reply = read_notification_reply(body, method=method, uuid=UUID, verifier=merchant_keys.verifier)
    assert reply.status == status
    if "limit" in extra:
        assert reply.limit == "100.00"
        assert b'"limit":"100.00"' in body
    if "message" in extra:
        assert reply.message == extra["message"]


@pytest.mark.parametrize(
    ("method", "status", "extra", "complaint"),
    [
        ("credit", "FAILED", {}, "not a valid reply"),
        ("debit", "CONTINUE", {}, "not a valid reply"),
        ("kyc", "FINISH", {"limit": Decimal("1")}, "limit"),
        ("kyc", "CONTINUE", {"limit": Decimal("1.005")}, "decimals"),
    ],
)
def test_invalid_replies_are_refused_before_signing(
    merchant_keys: KeyPair, method: str, status: str, extra: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        build_notification_reply(method, UUID, merchant_keys.signer, status, **extra)


def test_reading_a_reply_checks_uuid_method_status_and_signature(
    merchant_keys: KeyPair, trustly_keys: KeyPair
) -> None:
    good = build_notification_reply("credit", UUID, merchant_keys.signer)
    check = {"method": "credit", "uuid": UUID, "verifier": merchant_keys.verifier}
    assert read_notification_reply(good, **check).status == "OK"
    with pytest.raises(InvalidNotificationError, match="expected credit"):
        read_notification_reply(
            good, method="credit", uuid="other", verifier=merchant_keys.verifier
        )
    with pytest.raises(InvalidSignatureError):
        read_notification_reply(
            build_notification_reply("credit", UUID, trustly_keys.signer), **check
        )
    with pytest.raises(InvalidNotificationError, match="status"):
        read_notification_reply(
            build_result("credit", UUID, {"status": "FAILED"}, merchant_keys.signer), **check
        )
    with pytest.raises(InvalidNotificationError):
        read_notification_reply(b"<html>500</html>", **check)


def test_net_client_reply_vector_reads_as_ok() -> None:
    from fintrust.trustly import Verifier
    from tests.conftest import VECTORS

    verifier = Verifier.from_pem(
        (VECTORS / "keys/signaturetester_merchant_public.pem").read_bytes()
    )
    body = (VECTORS / "messages/net-client/credit_ok_notification_response.json").read_bytes()
    reply = read_notification_reply(
        body, method="credit", uuid="258a2184-2842-b485-25ca-293525152425", verifier=verifier
    )
    assert reply.status == "OK"
