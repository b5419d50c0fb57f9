"""Every vector in ../shared/spec/vectors (copied to tests/vectors), through the public API."""

from __future__ import annotations

from typing import Any

import pytest

from fintrust.trustly import (
    Environment,
    InvalidCredentialsError,
    InvalidSignatureError,
    ResponseSignatureError,
    Verifier,
    decode_json,
    parse_notification,
    plaintext,
    read_response,
    serialize,
    signed_part,
)
from tests.conftest import VECTORS, load_vector

SIGNATURE_CASES = load_vector("signatures/cases.json")["cases"]
FILE_CASES = [c for c in SIGNATURE_CASES if "file" in c and not c.get("signature_is_placeholder")]
INLINE_CASES = [c for c in SIGNATURE_CASES if "file" not in c]
TRUSTLY_SIGNED = [c for c in FILE_CASES if c["file"].startswith("messages/trustly-test-signed/")]
TEST_KEY = Verifier.for_environment(Environment.TEST)
LIVE_KEY = Verifier.for_environment(Environment.LIVE)


def _read(relative: str) -> bytes:
    return (VECTORS / relative).read_bytes()


def _verifier(key_file: str) -> Verifier:
    return Verifier.from_pem(_read(key_file))


def test_the_vectors_are_all_here() -> None:
    assert len(TRUSTLY_SIGNED) == 11
    assert sum(1 for c in TRUSTLY_SIGNED if "TAMPERED" in c["file"]) == 2


@pytest.mark.parametrize("case", TRUSTLY_SIGNED, ids=lambda c: c["file"].rsplit("/", 1)[-1])
def test_trustly_signed_messages_verify_through_the_public_api(case: dict[str, Any]) -> None:
    body = _read(case["file"])
    tampered = "TAMPERED" in case["file"]
    assert case["verifies_with"] == ([] if tampered else ["keys/trustly_test_public.pem"])
    if case["kind"] == "notification":
        if tampered:
            with pytest.raises(InvalidSignatureError):
                parse_notification(body, TEST_KEY)
        else:
            notification = parse_notification(body, TEST_KEY)
            assert (notification.method, notification.uuid) == (case["method"], case["uuid"])
        return
    call = {"method": case["method"], "uuid": case["uuid"], "verifier": TEST_KEY}
    if tampered:
        with pytest.raises(ResponseSignatureError):
            read_response(body, **call)
    elif case["kind"] == "error-response":
        # A verified error: the code is believed and mapped to its class.
        with pytest.raises(InvalidCredentialsError) as raised:
            read_response(body, **call)
        assert raised.value.code == 616
        assert raised.value.uuid == case["uuid"]
    else:
        data = read_response(body, **call)
        assert data == signed_part(decode_json(body)).data


@pytest.mark.parametrize("case", TRUSTLY_SIGNED, ids=lambda c: c["file"].rsplit("/", 1)[-1])
def test_trustly_signed_plaintexts_match_and_the_live_key_refuses(case: dict[str, Any]) -> None:
    part = signed_part(decode_json(_read(case["file"])))
    assert plaintext(part.method, part.uuid, part.data).decode() == case["plaintext"]
    assert not LIVE_KEY.verify(part.method, part.uuid, part.data, part.signature)


@pytest.mark.parametrize("case", FILE_CASES, ids=lambda c: c["file"].rsplit("/", 1)[-1])
def test_every_signed_file_verifies_exactly_with_its_listed_keys(case: dict[str, Any]) -> None:
    part = signed_part(decode_json(_read(case["file"])))
    keys = sorted(p.relative_to(VECTORS).as_posix() for p in (VECTORS / "keys").glob("*.pem"))
    verified = [
        k for k in keys if _verifier(k).verify(part.method, part.uuid, part.data, part.signature)
    ]
    assert verified == sorted(case["verifies_with"])
    if "plaintext" in case:
        assert plaintext(part.method, part.uuid, part.data).decode() == case["plaintext"]


@pytest.mark.parametrize("case", INLINE_CASES, ids=lambda c: c.get("method", "tester"))
def test_inline_client_signatures_verify(case: dict[str, Any]) -> None:
    verifier = _verifier(case["key"])
    if "data" in case:
        assert verifier.verify(case["method"], case["uuid"], case["data"], case["signature"])
        assert not verifier.verify(
            case["method"], case["uuid"], {**case["data"], "x": "1"}, case["signature"]
        )
    else:
        # The signature tester's own page: the full message lives in the protocol reference.
        tester = load_vector("protocol-reference/signature-tester-merchant-key-vectors.json")
        message = tester["vectors"][0]["message"]
        part = signed_part(message)
        assert part.signature == case["signature"]
        assert case["signature"].startswith(case["docs_signature_prefix"])
        assert verifier.verify(part.method, part.uuid, part.data, part.signature)


TESTER = load_vector("protocol-reference/signature-tester-merchant-key-vectors.json")


@pytest.mark.parametrize("vector", TESTER["vectors"], ids=lambda v: f"{v['kind']}-{v['method']}")
def test_signature_tester_vectors_reproduce_serialization_and_verify(
    vector: dict[str, Any],
) -> None:
    verifier = Verifier.from_pem(_read("protocol-reference/signature-tester-merchant-public.pem"))
    part = signed_part(vector["message"])
    assert serialize(part.data) == vector["serialized_data"]
    assert plaintext(part.method, part.uuid, part.data).decode() == vector["plaintext"]
    assert verifier.verify(part.method, part.uuid, part.data, vector["signature"])


REFERENCE = load_vector("protocol-reference/trustly-test-key-signed-messages.json")


@pytest.mark.parametrize("vector", REFERENCE["vectors"], ids=lambda v: f"{v['kind']}-{v['uuid']}")
def test_protocol_reference_messages(vector: dict[str, Any]) -> None:
    part = signed_part(vector["message"])
    assert serialize(part.data) == vector["serialized_data"]
    assert plaintext(part.method, part.uuid, part.data).decode() == vector["plaintext"]
    assert (
        TEST_KEY.verify(part.method, part.uuid, part.data, part.signature)
        is vector["verifies_with_trustly_test_key"]
    )
    assert (
        LIVE_KEY.verify(part.method, part.uuid, part.data, part.signature)
        is vector["verifies_with_trustly_live_key"]
    )


SERIALIZATION = load_vector("serialization/cases.json")["cases"] + [
    {"id": c["name"], **c}
    for c in load_vector("protocol-reference/serialization-cases.json")["cases"]
]


@pytest.mark.parametrize("case", SERIALIZATION, ids=lambda c: c["id"])
def test_serialization_cases(case: dict[str, Any]) -> None:
    assert serialize(case["input"]) == case["expected"]


def test_ruby_signatures_with_line_breaks_verify() -> None:
    body = _read("messages/ruby-client/deposit.json")
    assert "\n" in signed_part(decode_json(body)).signature  # type: ignore[operator]
    data = read_response(
        body,
        method="Deposit",
        uuid="258a2184-2842-b485-25ca-293525152425",
        verifier=_verifier("keys/ruby_client_fake_trustly_public.pem"),
    )
    assert data["orderid"] == "2190971587"
