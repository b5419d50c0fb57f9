"""TrustlyClient and AsyncTrustlyClient over httpx.MockTransport."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest

from fintrust.trustly import (
    API_ERRORS,
    AsyncTrustlyClient,
    ErrorCategory,
    InvalidCredentialsError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    ResponseMismatchError,
    ResponseSignatureError,
    ServerError,
    TransportError,
    TrustlyAPIError,
    TrustlyClient,
    UnknownError,
    UnknownOutcomeError,
    UnsignedErrorResponseError,
)
from tests.conftest import KeyPair
from tests.unit.trustly.fake_trustly import FakeTrustly
from tests.unit.trustly.test_methods import JAVA_RESPONSES, REQUEST_CASES, load

PASSWORD = "s3cret-Pa55word"


def _client(fake: FakeTrustly, **options: Any) -> TrustlyClient:
    options.setdefault("sleep", lambda seconds: None)
    return TrustlyClient(
        username="merchant",
        password=PASSWORD,
        signer=fake.merchant_keys.signer,
        verifier=fake.trustly_keys.verifier,
        url="https://trustly.test/api/1",
        transport=fake.transport,
        **options,
    )


@pytest.fixture
def fake(trustly_keys: KeyPair, merchant_keys: KeyPair) -> FakeTrustly:
    return FakeTrustly(trustly_keys, merchant_keys)


def test_request_envelope_is_signed_over_exactly_what_is_sent(fake: FakeTrustly) -> None:
    fake.replies = [fake.ok({"orderid": "7", "url": "https://checkout"})]
    data = _client(fake).call("Deposit", {"MessageID": "m-1", "Attributes": {"Firstname": "Åsa"}})
    assert data == {"orderid": "7", "url": "https://checkout"}
    sent = fake.last_request
    assert sent["method"] == "Deposit"
    assert sent["version"] == "1.1"
    assert set(sent["params"]) == {"Signature", "UUID", "Data"}
    assert sent["params"]["Data"] == {
        "Username": "merchant",
        "Password": PASSWORD,
        "MessageID": "m-1",
        "Attributes": {"Firstname": "Åsa"},
    }
    assert "Åsa".encode() in fake.bodies[-1]  # UTF-8 on the wire, not \u escapes
    assert fake.headers[-1]["content-type"] == "application/json; charset=utf-8"


def test_preparing_twice_with_the_same_uuid_gives_identical_bytes(fake: FakeTrustly) -> None:
    client = _client(fake)
    first = client.prepare_raw("AccountPayout", {"MessageID": "p-1", "Amount": "10.00"})
    again = client.prepare_raw(
        "AccountPayout", {"MessageID": "p-1", "Amount": "10.00"}, uuid=first.uuid
    )
    assert first == again
    assert first.reference == "p-1"
    assert PASSWORD not in repr(first)


@pytest.mark.parametrize("bad", ["ABC", "258A2184-2842-B485-25CA-293525152425", ""])
def test_uuids_must_be_lower_case_hex(fake: FakeTrustly, bad: str) -> None:
    with pytest.raises(ValueError, match="UUID"):
        _client(fake).prepare_raw("Balance", {}, uuid=bad or "x")


def test_credentials_in_data_are_refused(fake: FakeTrustly) -> None:
    with pytest.raises(ValueError, match="credentials"):
        _client(fake).call("Balance", {"Password": "other"})


@pytest.mark.parametrize(
    "failure",
    [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("reset")],
)
def test_network_errors_resend_the_identical_bytes(fake: FakeTrustly, failure: Exception) -> None:
    delays: list[float] = []
    fake.replies = [failure, failure, fake.ok({"orderid": "1", "result": "1"})]
    data = _client(fake, sleep=delays.append, backoff=0.25).call(
        "AccountPayout", {"MessageID": "p"}
    )
    assert data["result"] == "1"
    assert len(fake.bodies) == 3
    assert fake.bodies[0] == fake.bodies[1] == fake.bodies[2]
    assert delays == [0.25, 0.5]


def test_a_bare_5xx_is_retried_but_a_5xx_with_a_json_rpc_body_is_an_answer(
    fake: FakeTrustly,
) -> None:
    fake.replies = [fake.status(503), fake.ok({"orderid": "1", "result": "1"})]
    assert _client(fake).call("Refund", {"OrderID": "1"})["result"] == "1"
    assert fake.bodies[0] == fake.bodies[1]
    fake.bodies.clear()
    fake.replies = [fake.error(616, "ERROR_INVALID_CREDENTIALS", status=500)]
    with pytest.raises(InvalidCredentialsError):
        _client(fake).call("Refund", {"OrderID": "1"})
    assert len(fake.bodies) == 1


def test_exhausted_retries_raise_an_unknown_outcome(fake: FakeTrustly) -> None:
    fake.replies = [httpx.ConnectTimeout("no route")]
    with pytest.raises(TransportError) as raised:
        _client(fake, retries=2).call("AccountPayout", {"MessageID": "p-9"})
    assert raised.value.is_unknown_outcome
    assert raised.value.method == "AccountPayout"
    assert "3 attempt(s)" in str(raised.value)
    assert len(set(fake.bodies)) == 1
    assert len(fake.bodies) == 3
    fake.bodies.clear()
    fake.replies = [fake.status(502)]
    with pytest.raises(ServerError):
        _client(fake, retries=1).call("Balance", {})
    assert len(fake.bodies) == 2


@pytest.mark.parametrize("error_class", API_ERRORS, ids=lambda cls: cls.__name__)
def test_every_documented_error_maps_to_its_class(
    fake: FakeTrustly, error_class: type[TrustlyAPIError]
) -> None:
    code = error_class.error_code if error_class.error_code is not None else 620
    name = error_class.error_name or "ERROR_UNKNOWN"
    if error_class.error_code is None:
        code = 999  # names without a known number are matched by name
    fake.replies = [fake.error(code, name)]
    client = _client(fake)
    with pytest.raises(error_class) as raised:
        client.call("Deposit", {"MessageID": "m"})
    error = raised.value
    assert type(error) is error_class
    assert (error.code, error.message, error.method) == (code, name, "Deposit")
    assert error.uuid == fake.last_request["params"]["UUID"]
    assert error.category in ErrorCategory
    assert PASSWORD not in str(error)
    assert len(fake.bodies) == 1  # an answer is never retried by the client


def test_categories_say_what_to_do(fake: FakeTrustly) -> None:
    expected = {
        616: ErrorCategory.CONFIGURATION,
        636: ErrorCategory.CONFIGURATION,
        615: ErrorCategory.REQUEST,
        637: ErrorCategory.DUPLICATE,
        688: ErrorCategory.DUPLICATE,
        620: ErrorCategory.UNKNOWN_OUTCOME,
    }
    by_code = {cls.error_code: cls for cls in API_ERRORS}
    for code, category in expected.items():
        assert by_code[code].category is category
    assert issubclass(UnknownError, UnknownOutcomeError)


def test_a_known_name_wins_over_a_catch_all_code(fake: FakeTrustly) -> None:
    fake.replies = [fake.error(620, "ERROR_NOT_FOUND")]
    with pytest.raises(NotFoundError) as raised:
        _client(fake).call("ApproveWithdrawal", {"OrderID": "1"})
    assert raised.value.code == 620
    assert raised.value.is_request_error


def test_an_undocumented_code_is_an_unknown_outcome(fake: FakeTrustly) -> None:
    fake.replies = [fake.error(603, "ERROR_SOMETHING_NEW")]
    with pytest.raises(UnknownOutcomeError) as raised:
        _client(fake).call("MerchantSettlement", {"MessageID": "s"})
    assert type(raised.value) is UnknownOutcomeError
    assert raised.value.code == 603


def test_an_unsigned_error_raises_its_own_exception(fake: FakeTrustly) -> None:
    fake.replies = [fake.error(620, "ERROR_UNKNOWN", signed=False)]
    with pytest.raises(UnsignedErrorResponseError) as raised:
        _client(fake).call("Deposit", {"MessageID": "m"})
    assert raised.value.code == 620
    assert raised.value.is_unknown_outcome


def test_a_response_with_a_bad_signature_raises(fake: FakeTrustly, merchant_keys: KeyPair) -> None:
    forged = FakeTrustly(merchant_keys, merchant_keys)  # signed, but not with Trustly's key
    fake.replies = [forged.ok({"orderid": "1", "url": "https://phish"})]
    with pytest.raises(ResponseSignatureError):
        _client(fake).call("Deposit", {"MessageID": "m"})
    fake.replies = [forged.error(616, "ERROR_INVALID_CREDENTIALS")]
    with pytest.raises(ResponseSignatureError):
        _client(fake).call("Deposit", {"MessageID": "m"})


@pytest.mark.parametrize(
    "mismatch",
    [{"uuid": "00000000-0000-0000-0000-000000000000"}, {"method": "Refund"}],
)
def test_a_response_for_another_request_raises(fake: FakeTrustly, mismatch: dict[str, str]) -> None:
    fake.replies = [fake.ok({"orderid": "1", "result": "1"}, **mismatch)]
    with pytest.raises(ResponseMismatchError):
        _client(fake).call("AccountPayout", {"MessageID": "m"})


@pytest.mark.parametrize(
    "body", [b"", b"<html>", b'{"version": "1.1"}', b'{"version": "2.0", "result": {}}']
)
def test_unreadable_responses_raise_malformed(fake: FakeTrustly, body: bytes) -> None:
    fake.replies = [lambda message: httpx.Response(200, content=body)]
    with pytest.raises(MalformedResponseError):
        _client(fake).call("Balance", {})


def test_result_zero_raises_rejected_with_the_reason(fake: FakeTrustly) -> None:
    fake.replies = [
        fake.ok({"orderid": None, "result": "0", "rejected": "ERROR_ACCOUNT_NOT_FOUND"})
    ]
    with pytest.raises(RejectedError) as raised:
        _client(fake).call("Charge", {"MessageID": "c"})
    assert raised.value.reason == "ERROR_ACCOUNT_NOT_FOUND"
    assert raised.value.is_request_error


def test_the_password_never_reaches_logs_or_reprs(
    fake: FakeTrustly, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.replies = [httpx.ConnectError("x"), fake.error(616, "ERROR_INVALID_CREDENTIALS")]
    client = _client(fake)
    with pytest.raises(InvalidCredentialsError):
        client.call("Deposit", {"MessageID": "m"})
    assert caplog.records, "errors must be logged"
    failure = caplog.records[-1]
    assert failure.trustly_error_code == 616  # type: ignore[attr-defined]
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
        assert PASSWORD not in repr(record.__dict__)
    assert PASSWORD not in repr(client)


@pytest.mark.anyio
async def test_async_client_behaves_the_same(fake: FakeTrustly) -> None:
    delays: list[float] = []

    async def sleep(seconds: float) -> None:
        delays.append(seconds)

    fake.replies = [
        httpx.ReadTimeout("slow"),
        fake.status(504),
        fake.ok({"orderid": "1", "result": "1"}),
    ]
    async with AsyncTrustlyClient(
        username="merchant",
        password=PASSWORD,
        signer=fake.merchant_keys.signer,
        verifier=fake.trustly_keys.verifier,
        transport=fake.async_transport,
        sleep=sleep,
        backoff=1,
    ) as client:
        assert client.url == "https://test.trustly.com/api/1"
        assert (await client.call("AccountPayout", {"MessageID": "p"}))["result"] == "1"
        fake.replies = [fake.error(637, "ERROR_DUPLICATE_MESSAGE_ID")]
        with pytest.raises(TrustlyAPIError) as raised:
            await client.call("AccountPayout", {"MessageID": "p"})
    assert raised.value.is_duplicate_error
    assert delays == [1, 2]
    assert len(set(fake.bodies[:3])) == 1


RESPONSE_FIXTURE = {
    "Deposit": "deposit",
    "SelectAccount": "selectaccount",
    "Withdraw": "withdraw",
    "AccountPayout": "accountpayout",
    "RegisterAccount": "registeraccount",
    "Refund": "refund",
    "ApproveWithdrawal": "approvewithdrawal",
    "DenyWithdrawal": "denywithdrawal",
    "GetWithdrawals": "getwithdrawals",
    "Balance": "balance",
    "AccountLedger": "accountledger",
    "ViewAutomaticSettlementDetailsCSV": "settlementreport",
    "Charge": "charge",
    "CancelCharge": "cancelcharge_ok",
}


def test_every_typed_method_has_a_response_fixture() -> None:
    from fintrust.trustly import REQUEST_TYPE_BY_METHOD

    assert set(RESPONSE_FIXTURE) == set(REQUEST_TYPE_BY_METHOD)


@pytest.mark.parametrize("case", sorted(REQUEST_CASES))
def test_every_method_sends_its_shape_and_returns_its_typed_result(
    fake: FakeTrustly, case: str
) -> None:
    request = REQUEST_CASES[case][0]()
    answer = load(JAVA_RESPONSES / f"{RESPONSE_FIXTURE[request.method]}.json")["result"]["data"]
    fake.replies = [fake.ok(answer)]
    result = _client(fake).execute(request)
    sent = fake.last_request
    assert sent["method"] == request.method
    assert sent["params"]["Data"] == {
        "Username": "merchant",
        "Password": PASSWORD,
        **request.to_data(),
    }
    assert result == request.parse_result(answer)
    assert type(result) is type(request.parse_result(answer))
