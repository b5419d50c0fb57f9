"""The acceptance runner against two reference merchants: one that does what Trustly asks, and
a naive one that makes the usual mistakes. Both run in-process through ``httpx.ASGITransport``;
every delay and back-off happens on the emulator's virtual clock."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from rich.console import Console

from tests.conftest import KeyPair
from tests.integration.emulator.acceptance_receivers import (
    HOOK_URL,
    NOTIFICATION_URL,
    CorrectMerchant,
    NaiveMerchant,
    ReferenceMerchant,
    client_for,
)
from trustly_emulator import EmulatorKeys, catalogue
from trustly_emulator.acceptance import (
    AcceptanceConfig,
    AcceptanceReport,
    AttemptReport,
    Check,
    ScenarioResult,
    SentNotification,
    available_checks,
    render_report,
    run_acceptance,
)

ALL_IDS = [check_id for check_id, _ in available_checks()]
PAYOUTS = {"payout-ok", "payout-failed", "payout-returned", "payout-cancelled"}
DEPOSIT_OK = {s.id for s in catalogue() if s.id.startswith("deposit-ok")}
# What a merchant that credits on pending, never deduplicates, ignores debit and trusts
# unsigned input gets wrong. Everything else it does (or skips: it makes no payouts).
NAIVE_FAILS = DEPOSIT_OK | {
    "D1",
    "deposit-pending-then-cancel",
    "deposit-pending-then-credit-later",
    "deposit-credit-other-amount",
    "deposit-duplicates",
    "deposit-reply-lost",
    "deposit-unknown-notification",
    "deposit-kyc",
    "withdraw-denied",
    "withdraw-ok",  # answers debit OK without taking the money
    "forged-signature",
    "tampered-notification",
}


@pytest.fixture(scope="module")
def emulator_keys() -> EmulatorKeys:
    return EmulatorKeys.ephemeral()


def config(keys: EmulatorKeys, merchant: KeyPair, **overrides: object) -> AcceptanceConfig:
    settings: dict[str, object] = {
        "notification_url": NOTIFICATION_URL,
        "hook_url": HOOK_URL,
        "keys": keys,
        "merchant_public_key_pem": merchant.public_pem.decode("ascii"),
    }
    settings.update(overrides)
    return AcceptanceConfig(**settings)  # type: ignore[arg-type]


@pytest.fixture
def correct(emulator_keys: EmulatorKeys, merchant_keys: KeyPair) -> CorrectMerchant:
    return CorrectMerchant(emulator_keys.public_pem, merchant_keys.signer)


@pytest.fixture
def naive(emulator_keys: EmulatorKeys, merchant_keys: KeyPair) -> NaiveMerchant:
    return NaiveMerchant(emulator_keys.public_pem, merchant_keys.signer)


async def run(
    merchant: ReferenceMerchant, keys: EmulatorKeys, merchant_keys: KeyPair, **overrides: object
) -> AcceptanceReport:
    async with client_for(merchant) as http:
        return await run_acceptance(config(keys, merchant_keys, **overrides), http_client=http)


# ------------------------------------------------------------------ the correct merchant


@pytest.mark.anyio
async def test_correct_merchant_passes_every_scenario_and_check(
    correct: CorrectMerchant, emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    progress: list[tuple[str, int, int]] = []
    async with client_for(correct) as http:
        report = await run_acceptance(
            config(emulator_keys, merchant_keys),
            http_client=http,
            progress=lambda *args: progress.append(args),
        )
    assert [r.id for r in report.results] == ALL_IDS
    assert {"forged-signature", "tampered-notification"} <= set(ALL_IDS)
    not_passed = [
        (r.id, r.status, r.reason, r.failed_checks) for r in report.results if r.status != "PASS"
    ]
    assert not_passed == []
    for result in report.results:
        assert result.checks, result.id
        assert all(check.ok is True for check in result.checks), result
    assert report.ok
    names = {r.id: {c.name for c in r.checks} for r in report.results}
    assert "balance change" in names["deposit-ok"]
    assert "balance change" in names["payout-ok"]
    assert {"balance change", "suspense change"} <= names["deposit-credit-other-amount"]
    assert "payout account" in names["select-account-ok"]
    assert "reply on re-delivery" in names["deposit-reply-lost"]
    assert progress[0] == (ALL_IDS[0], 0, len(ALL_IDS))
    assert progress[-1] == ("", len(ALL_IDS), len(ALL_IDS))
    # The scenarios really went through the merchant: re-deliveries, branches and all.
    duplicates = report.result("deposit-duplicates").notifications
    assert [len(n.attempts) for n in duplicates] == [2, 2, 2]
    lost = {n.method: n for n in report.result("deposit-reply-lost").notifications}
    assert [a.verdict.split(" ")[0] for a in lost["credit"].attempts] == ["reply", "ok"]
    kyc = [n.method for n in report.result("deposit-kyc").notifications]
    assert kyc == ["kyc", "pending", "account", "credit"]
    assert report.result("payout-returned").notifications[-1].method == "credit"
    d1 = {c.name.split(" ")[2]: c for c in report.result("D1").checks if c.name.startswith("reply")}
    assert d1["debit"].actual == "OK"
    assert "status OK" in d1["debit"].expected


@pytest.mark.anyio
async def test_scenario_filter_runs_only_those(
    correct: CorrectMerchant, emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    report = await run(
        correct, emulator_keys, merchant_keys, scenario_ids=("D1", "forged-signature")
    )
    assert [r.id for r in report.results] == ["D1", "forged-signature"]
    with pytest.raises(ValueError, match="unknown scenario"):
        await run(correct, emulator_keys, merchant_keys, scenario_ids=("nope",))


# ------------------------------------------------------------------ the naive merchant


@pytest.mark.anyio
async def test_naive_merchant_fails_exactly_what_it_gets_wrong(
    naive: NaiveMerchant, emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    report = await run(naive, emulator_keys, merchant_keys)
    assert {r.id for r in report.failed} == NAIVE_FAILS
    assert {r.id for r in report.skipped} == PAYOUTS
    assert {r.id for r in report.passed} == set(ALL_IDS) - NAIVE_FAILS - PAYOUTS
    assert not report.ok
    for skipped in report.skipped:
        assert skipped.reason == "no AccountPayout here"

    def balance(scenario_id: str) -> Check:
        [check] = [
            c for c in report.result(scenario_id).failed_checks if c.name == "balance change"
        ]
        return check

    # Pending and credit both credited; the debit took nothing back.
    assert balance("D1").expected.startswith("+0.00 EUR")
    assert balance("D1").actual.startswith("+20.00 EUR (0.00 → 20.00)")
    assert balance("deposit-pending-then-cancel").actual.startswith("+10.00 EUR")
    assert balance("deposit-duplicates").expected.startswith("+10.00 EUR")
    assert balance("deposit-duplicates").actual.startswith("+40.00 EUR")
    assert balance("deposit-reply-lost").actual.startswith("+30.00 EUR")
    for scenario_id in DEPOSIT_OK:
        assert balance(scenario_id).actual.startswith("+20.00 EUR"), scenario_id
    suspense = [
        c for c in report.result("deposit-credit-other-amount").failed_checks
        if c.name == "suspense change"
    ]  # fmt: skip
    assert [(c.expected[:9], c.actual[:9]) for c in suspense] == [("+5.00 EUR", "+0.00 EUR")]
    # It answers every notification validly, so only the effects are wrong.
    for result in report.failed:
        assert all(c.ok for c in result.checks if c.name.startswith("reply to")), result.id
    forged = report.result("forged-signature").checks
    assert forged[0].ok is False
    assert "valid signed OK" in forged[0].actual
    assert (forged[1].expected, forged[1].actual) == ("+0.00 EUR (nothing credited)", "+10.00 EUR")


@pytest.mark.anyio
async def test_a_different_status_on_redelivery_fails(
    correct: CorrectMerchant, emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    """A merchant that refuses a notificationid it has seen (HTTP 409) fails the duplicate
    scenarios, with the re-delivery's answer quoted."""
    correct.refuse_duplicates = True
    report = await run(correct, emulator_keys, merchant_keys, scenario_ids=("deposit-duplicates",))
    [result] = report.results
    assert result.status == "FAIL"
    [redelivery] = [c for c in result.checks if c.name == "reply on re-delivery"]
    assert redelivery.ok is False
    assert "pending: OK, no valid reply (HTTP 409)" in redelivery.actual


# ------------------------------------------------------------------ without a hook


@pytest.mark.anyio
async def test_without_hook_a_careful_merchant_refuses_unknown_orders(
    correct: CorrectMerchant, emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    report = await run(
        correct, emulator_keys, merchant_keys, hook_url=None, scenario_ids=("deposit-ok",)
    )
    [result] = report.results
    assert result.status == "FAIL"
    assert result.reason is not None
    assert "refused an order it does not know" in result.reason
    assert "give --hook-url" in result.reason
    pending = result.failed_checks[0]
    assert pending.actual.startswith("no valid reply in 6 attempts: invalid reply (HTTP 400)")
    assert "x6" in pending.actual
    assert "'unknown order'" in pending.actual
    assert result.checks[-1].actual == "not checked (no --hook-url)"
    assert result.checks[-1].ok is None


@pytest.mark.anyio
async def test_without_hook_effects_are_not_checked(
    naive: NaiveMerchant, emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    report = await run(
        naive, emulator_keys, merchant_keys, hook_url=None, scenario_ids=("D1", "payout-ok")
    )
    assert [r.status for r in report.results] == ["PASS", "PASS"]
    assert report.results[0].end_user_id == "acceptance-user-1"
    assert report.results[0].checks[-1].actual == "not checked (no --hook-url)"


@pytest.mark.anyio
async def test_a_broken_hook_fails_the_scenario(
    emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(lambda request: httpx.Response(500, text="boom"))
    ) as http:
        report = await run_acceptance(
            config(emulator_keys, merchant_keys, scenario_ids=("deposit-ok",)), http_client=http
        )
    [result] = report.results
    assert result.status == "FAIL"
    assert result.reason == "the hook failed: POST /orders answered HTTP 500: 'boom'"


@pytest.mark.anyio
async def test_nothing_answering_is_said_plainly(
    emulator_keys: EmulatorKeys, merchant_keys: KeyPair
) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        report = await run_acceptance(
            config(emulator_keys, merchant_keys, hook_url=None, scenario_ids=("D1",)),
            http_client=http,
        )
    [result] = report.results
    assert result.status == "FAIL"
    assert result.reason is not None
    assert result.reason.startswith(f"Nothing answered at {NOTIFICATION_URL}")
    assert [len(n.attempts) for n in result.notifications] == [6, 6, 6, 6]
    assert "no reply: ConnectError: connection refused x6" in result.failed_checks[0].actual


# ------------------------------------------------------------------ the report


def test_render_report_names_what_each_reply_should_have_been() -> None:
    attempt = AttemptReport(0.0, 400, "invalid reply (HTTP 400): bad", None)
    report = AcceptanceReport(
        NOTIFICATION_URL,
        HOOK_URL,
        (
            ScenarioResult("deposit-ok", "Deposit completed", "Deposit", "PASS",
                           checks=(Check("balance change", "+10.00 EUR", "+10.00 EUR", True),)),
            ScenarioResult(
                "D1",
                "D1: debit after credit",
                "Deposit",
                "FAIL",
                checks=(
                    Check("reply to debit 1", "a signed reply with status OK", "FAILED", False),
                    Check("balance change", "+0.00 EUR (0 x 10.00)", "+20.00 EUR", False),
                ),
                notifications=(SentNotification("debit", "1", "u", "failed", (attempt,)),),
            ),
            ScenarioResult("payout-ok", "Payout", "AccountPayout", "SKIPPED", reason="no payouts"),
        ),
    )  # fmt: skip
    out = io.StringIO()
    render_report(report, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert "✓ │ deposit-ok" in text
    assert "✗ │ D1" in text
    assert "reply to debit 1: should be a signed reply with status OK; was FAILED" in text
    assert "balance change: should be +0.00 EUR (0 x 10.00); was +20.00 EUR" in text
    assert "skipped: no payouts" in text
    assert "1 passed, 1 failed, 1 skipped" in text
    assert "not checked" not in text
    data = report.to_json()
    assert data["summary"] == {"passed": 1, "failed": 1, "skipped": 1}
    assert data["results"][1]["notifications"][0]["attempts"][0]["http_status"] == 400
    json.dumps(data)
