"""``fintrust emulator acceptance``: options, exit codes and output, against the reference
merchants of ``acceptance_receivers`` (reached in-process through the client factory)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from fintrust.trustly import generate_key_pair
from tests.conftest import KeyPair
from tests.integration.emulator.acceptance_receivers import (
    HOOK_URL,
    NOTIFICATION_URL,
    CorrectMerchant,
    NaiveMerchant,
    ReferenceMerchant,
    client_for,
)
from trustly_emulator import EmulatorKeys
from trustly_emulator import cli as emulator_cli
from trustly_emulator.cli._acceptance import acceptance_command


class DataDir:
    """An emulator data directory: its key pair (``trustly`` stands in for it) and an
    emulator.json listing ``merchants``, all with the merchant's public key."""

    def __init__(self, root: Path, trustly: KeyPair, merchant: KeyPair, *merchants: str) -> None:
        self.root = root
        (root / "emulator_private.pem").write_bytes(trustly.private_pem)
        self.keys = EmulatorKeys(trustly.signer, trustly.public_pem.decode("ascii"))
        pem = merchant.public_pem.decode("ascii")
        entries = [{"username": name, "password": "", "public_key_pem": pem} for name in merchants]
        (root / "emulator.json").write_text(json.dumps({"merchants": entries}), "utf-8")


@pytest.fixture
def data_dir(tmp_path: Path, trustly_keys: KeyPair, merchant_keys: KeyPair) -> DataDir:
    return DataDir(tmp_path, trustly_keys, merchant_keys, "acme")


@pytest.fixture
def serve(monkeypatch: pytest.MonkeyPatch) -> list[ReferenceMerchant]:
    """Route the command's HTTP client to whichever merchant the test appends."""
    merchants: list[ReferenceMerchant] = []
    monkeypatch.setattr(
        emulator_cli, "http_client_factory", lambda _timeout: client_for(merchants[0])
    )
    return merchants


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(acceptance_command, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


URLS = ("--notification-url", NOTIFICATION_URL, "--hook-url", HOOK_URL)


def test_command_passes_against_the_correct_merchant(
    data_dir: DataDir, merchant_keys: KeyPair, serve: list[ReferenceMerchant]
) -> None:
    serve.append(CorrectMerchant(data_dir.keys.public_pem, merchant_keys.signer))
    code, out, _ = invoke(
        *URLS, "--data-dir", str(data_dir.root), "--scenario", "D1", "--scenario", "payout-ok"
    )
    assert code == 0, out
    assert "✓" in out
    assert "2 passed, 0 failed, 0 skipped" in out


def test_command_needs_only_the_merchants_of_emulator_json(
    data_dir: DataDir, merchant_keys: KeyPair, serve: list[ReferenceMerchant]
) -> None:
    """The runner brings its own delivery policy: settings it has no use for are no error."""
    path = data_dir.root / "emulator.json"
    path.write_text(json.dumps({**json.loads(path.read_text("utf-8")), "colour": "red"}), "utf-8")
    serve.append(CorrectMerchant(data_dir.keys.public_pem, merchant_keys.signer))
    code, out, _ = invoke(*URLS, "--data-dir", str(data_dir.root), "--scenario", "D1")
    assert code == 0, out
    assert "1 passed, 0 failed, 0 skipped" in out


def test_command_fails_against_the_naive_merchant_and_prints_json(
    data_dir: DataDir, merchant_keys: KeyPair, serve: list[ReferenceMerchant]
) -> None:
    serve.append(NaiveMerchant(data_dir.keys.public_pem, merchant_keys.signer))
    code, out, _ = invoke(*URLS, "--data-dir", str(data_dir.root), "--scenario", "D1", "--json")
    assert code == 1
    data = json.loads(out)
    assert data["ok"] is False
    [d1] = data["results"]
    assert d1["status"] == "FAIL"
    assert any(c["name"] == "balance change" and not c["ok"] for c in d1["checks"])


def test_command_with_a_private_key_and_a_merchant_key_file(
    tmp_path: Path, merchant_keys: KeyPair, serve: list[ReferenceMerchant]
) -> None:
    private_pem, public_pem = generate_key_pair()
    (tmp_path / "key.pem").write_bytes(private_pem)
    (tmp_path / "merchant.pem").write_bytes(merchant_keys.public_pem)
    serve.append(CorrectMerchant(public_pem.decode("ascii"), merchant_keys.signer))
    code, out, _ = invoke(
        *URLS,
        "--private-key", str(tmp_path / "key.pem"),
        "--merchant-public-key", str(tmp_path / "merchant.pem"),
        "--scenario", "deposit-kyc",
        "--amount", "25.50",
        "--currency", "sek",
    )  # fmt: skip
    assert code == 0, out
    [order] = serve[0].orders.values()
    assert (order.amount, order.currency) == (Decimal("25.50"), "SEK")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "give --data-dir"),
        (("--hook-url", "merchant.test/acceptance"), "not an http(s) URL"),
        (("--data-dir", "{empty}"), "no emulator key pair in"),
        (("--data-dir", "{broken}"), "is not valid JSON"),
        (("--data-dir", "{data}", "--scenario", "nope"), "no scenario 'nope'"),
        (("--data-dir", "{data}", "--amount", "10.001"), "--amount"),
        (("--data-dir", "{data}", "--currency", "EURO"), "--currency"),
        (("--data-dir", "{data}", "--merchant", "other"), "no merchant 'other'"),
        (("--data-dir", "{two}"), "several merchants (acme, zeta)"),
        (("--data-dir", "{empty}", "--private-key", "{key}"), "give --merchant-public-key"),
    ],
)
def test_command_usage_errors_exit_2(
    tmp_path: Path,
    trustly_keys: KeyPair,
    merchant_keys: KeyPair,
    args: tuple[str, ...],
    message: str,
) -> None:
    paths = {name: tmp_path / name for name in ("empty", "data", "two", "broken")}
    for path in paths.values():
        path.mkdir()
    DataDir(paths["data"], trustly_keys, merchant_keys, "acme")
    DataDir(paths["two"], trustly_keys, merchant_keys, "acme", "zeta")
    DataDir(paths["broken"], trustly_keys, merchant_keys)
    (paths["broken"] / "emulator.json").write_text("{", "utf-8")
    (tmp_path / "key.pem").write_bytes(trustly_keys.private_pem)
    values = {name: str(path) for name, path in paths.items()} | {"key": str(tmp_path / "key.pem")}
    code, out, err = invoke(*URLS, *(arg.format(**values) for arg in args))
    assert code == 2, out + err
    assert message in " ".join(err.split())
    assert list(paths["empty"].iterdir()) == [], "no key may be created"
