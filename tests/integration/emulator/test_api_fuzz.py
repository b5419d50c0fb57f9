"""Whatever a merchant sends, the emulator answers as Trustly does: a signed result or a JSON-RPC
error with a code, never an HTTP 500 (a Trustly integration is built against these answers)."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fintrust.trustly import TrustlyAPIError, UnknownOutcomeError
from tests.integration.emulator.harness import setup, sync_client
from trustly_emulator._methods import HANDLERS

# The fields the methods read, and values that a merchant's bug might send in them.
FIELDS = [
    "NotificationURL", "EndUserID", "MessageID", "OrderID", "AccountID", "Amount", "Currency",
    "ClearingHouse", "BankNumber", "AccountNumber", "Firstname", "Lastname", "FromDate", "ToDate",
    "SettlementDate", "ShopperStatement", "Country", "Locale", "SuccessURL", "FailURL",
    "NationalIdentificationNumber", "MobilePhone", "Email", "DateOfBirth", "URLTarget",
]  # fmt: skip
VALUES = st.one_of(
    st.none(),
    st.text(max_size=20),
    st.sampled_from(["", "0", "-1", "1e5", "100.00", "0.001", "EUR", "SE", "sv_SE", "2026-13-45",
                     "99999999999999999999", "NaN", "Infinity", "http://x", "1.5.5"]),
    st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=5), max_size=3),
    st.lists(st.text(max_size=5), max_size=3),
)  # fmt: skip
DATA = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8).flatmap(
    lambda data: st.fixed_dictionaries(
        {},
        optional={
            "Attributes": st.one_of(
                st.none(), st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=8)
            )
        },
    ).map(lambda extra: {**data, **extra})
)


def test_every_method_answers_any_data_with_a_trustly_answer() -> None:
    client = sync_client(setup())
    seen: list[str] = []

    @given(method=st.sampled_from(sorted(HANDLERS)), data=DATA)
    @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
    def check(method: str, data: dict[str, Any]) -> None:
        try:
            client.call(method, data)
        except UnknownOutcomeError as exc:
            # No answer Trustly would give (an HTTP 500, a body that is not JSON-RPC): only
            # Trustly's own ERROR_UNKNOWN (620) is an unknown outcome with a code.
            if exc.code is None:
                raise AssertionError(f"{method} {data!r}: {exc!r}") from exc
            seen.append(method)
        except TrustlyAPIError:  # a signed error or rejection: what Trustly answers bad data with
            seen.append(method)

    try:
        check()
    finally:
        client.close()  # and its transport
    assert seen  # the fuzzing did reach the methods' own checks
