"""The emulator's key pair, its configuration file, its banks and its scenario catalogue."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from fintrust.trustly import Verifier, generate_key_pair
from trustly_emulator import EmulatorConfig, EmulatorKeys, MerchantConfig, catalogue
from trustly_emulator._banks import BANKS, accounts_for, check_login, validate_account_number
from trustly_emulator._clock import ManualClock, SystemClock, trustly_timestamp
from trustly_emulator._scenarios import default_scenario, scenario


def test_the_key_pair_is_made_once_and_kept_private(tmp_path: Path) -> None:
    first = EmulatorKeys.load_or_create(tmp_path)
    again = EmulatorKeys.load_or_create(tmp_path)
    assert first.public_pem == again.public_pem
    assert stat.S_IMODE((tmp_path / "emulator_private.pem").stat().st_mode) == 0o600
    signature = again.signer.sign("credit", "u", {"a": "1"})
    assert Verifier.from_pem(first.public_pem).verify("credit", "u", {"a": "1"}, signature)


def test_merchants_come_from_emulator_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    public_pem = generate_key_pair()[1]
    (tmp_path / "acme.pem").write_bytes(public_pem)
    (tmp_path / "emulator.json").write_text(
        json.dumps(
            {
                "merchants": [
                    {
                        "username": "acme",
                        "password_env": "ACME_PASSWORD",
                        "public_key_file": "acme.pem",
                        "notifications": ["account"],
                        "balances": {"EUR": "1000.00"},
                    }
                ],
                "retry_delays": [1, 2],
            }
        )
    )
    monkeypatch.setenv("ACME_PASSWORD", "from-the-environment")
    config = EmulatorConfig.from_data_dir(tmp_path, base_url="http://127.0.0.1:9")
    [merchant] = config.merchants
    assert (merchant.username, merchant.password) == ("acme", "from-the-environment")
    assert merchant.notifications == frozenset({"account"})
    assert config.retry_delays == (1, 2)
    assert config.base_url == "http://127.0.0.1:9"
    assert "from-the-environment" not in repr(merchant)


def test_a_bad_merchant_configuration_fails_at_start() -> None:
    with pytest.raises(ValueError, match="unknown optional notifications"):
        MerchantConfig("acme", "pw", None, frozenset({"credit"}))
    with pytest.raises(ValueError, match="PEM"):
        MerchantConfig("acme", "pw", "not a key")


def test_retry_delays_grow_and_then_stay() -> None:
    config = EmulatorConfig(retry_delays=(5, 15, 60))
    assert [config.retry_delay(n) for n in range(1, 6)] == [5, 15, 60, 60, 60]


def test_clocks() -> None:
    clock = ManualClock(start=0)
    assert clock.advance(5) == 5
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    system = SystemClock()
    before = system.now()
    assert system.advance(3600) - before >= 3600
    assert trustly_timestamp(0) == "1970-01-01 00:00:00.000000+00"


def test_catalogue_is_consistent() -> None:
    scenarios = catalogue()
    kinds = {"Deposit", "SelectAccount", "Withdraw", "AccountPayout"}
    for kind in kinds:
        assert kind in default_scenario(kind).applies_to
    assert scenario("D1").trustly_test_case
    assert [s.id for s in scenarios if s.trustly_test_case] == ["D1"]
    for entry in scenarios:
        for step in entry.steps:
            assert step.event.isalpha()
        for method in entry.expect.replies:
            assert any(step.event == method for step in entry.steps)
    with pytest.raises(KeyError, match="no scenario"):
        scenario("D3")


@pytest.mark.parametrize(
    ("country", "identifier", "ok", "abandon"),
    [
        ("SE", "19900101-1234", True, False),
        ("SE", "900101-1234", True, False),
        ("SE", "hello", False, False),
        ("SE", "19900101-0000", False, False),
        ("SE", "19900101-9999", False, True),
        ("FI", "010190-123A", True, False),
        ("DE", "user1234", True, False),
    ],
)
def test_bank_logins_and_magic_values(
    country: str, identifier: str, ok: bool, abandon: bool
) -> None:
    outcome = check_login(country, identifier)
    assert (outcome.ok, outcome.abandon) == (ok, abandon)


def test_accounts_are_stable_per_login_and_account_numbers_are_checked() -> None:
    bank = BANKS["SE"][0]
    assert accounts_for(bank, "19900101-1234") == accounts_for(bank, "19900101-1234")
    assert accounts_for(bank, "19900101-1234") != accounts_for(bank, "19900101-4321")
    assert validate_account_number("FINLAND", "", "FI2112345600000785")
    assert not validate_account_number("FINLAND", "", "FI2112345600000786")  # bad checksum
    assert validate_account_number("SWEDEN", "6112", "69706212")
    assert not validate_account_number("SWEDEN", "6112", "12ab")
