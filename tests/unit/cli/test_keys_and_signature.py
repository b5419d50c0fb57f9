"""The ``fintrust`` command line: keys generate, signature verify, signature sign."""

from __future__ import annotations

import json
import stat
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization

from fintrust import __version__
from fintrust.cli import FintrustGroup, main
from fintrust.trustly import (
    Verifier,
    decode_json,
    load_private_key,
    load_public_key,
    plaintext,
)
from tests.conftest import VECTORS

TRUSTLY_SIGNED = VECTORS / "messages" / "trustly-test-signed"
GENUINE = sorted(p for p in TRUSTLY_SIGNED.glob("*.json") if "TAMPERED" not in p.name)
TAMPERED = sorted(TRUSTLY_SIGNED.glob("*_TAMPERED.json"))
NET_REPLY = VECTORS / "messages" / "net-client" / "credit_ok_notification_response.json"
SIGNATURETESTER_KEY = VECTORS / "keys" / "signaturetester_merchant_public.pem"
PYTHON_REQUESTS = sorted((VECTORS / "messages" / "python-client-requests").glob("*.json"))
PYTHON_MERCHANT_KEY = VECTORS / "keys" / "python_client_test_merchant1_public.pem"
PLAINTEXTS = {
    case["file"]: case["plaintext"]
    for case in json.loads((VECTORS / "signatures" / "cases.json").read_text("utf-8"))["cases"]
    if "file" in case and "plaintext" in case
}

PASSWORD = "s3cr3t-P4ss!word"
UUID = "258a2184-2842-b485-25ca-293525152425"


def run(args: Sequence[str], stdin: bytes | str | None = None, **env: str) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin, env=env or None)


class MerchantKeyFiles:
    def __init__(self, directory: Path) -> None:
        self.private = directory / "merchant_private.pem"
        self.public = directory / "merchant_public.pem"
        paths = ["--private-key", str(self.private), "--public-key", str(self.public)]
        result = run(["keys", "generate", *paths])
        assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def merchant(tmp_path_factory: pytest.TempPathFactory) -> MerchantKeyFiles:
    """A merchant key pair written by ``fintrust keys generate``."""
    return MerchantKeyFiles(tmp_path_factory.mktemp("keys"))


def write_json(path: Path, message: Any) -> Path:
    path.write_text(json.dumps(message), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ group


def test_version_and_help() -> None:
    version = run(["--version"])
    assert version.exit_code == 0
    assert __version__ in version.stdout

    help_ = run(["--help"])
    assert help_.exit_code == 0
    assert "keys" in help_.stdout
    assert "signature" in help_.stdout


def test_without_command_is_a_usage_error() -> None:
    result = run([])
    assert result.exit_code == 2
    assert "Usage:" in result.output


def test_subcommands_can_be_registered_lazily() -> None:
    group = FintrustGroup(name="demo")
    group.add_lazy_command("crypto-keys", "fintrust.cli.keys:keys")
    assert "crypto-keys" in group.list_commands(click.Context(group))
    result = CliRunner().invoke(group, ["crypto-keys", "generate", "--help"])
    assert result.exit_code == 0, result.output
    assert "--private-key" in result.stdout

    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        group.add_lazy_command("broken", "fintrust.cli")


def test_subcommand_groups_can_be_added_eagerly() -> None:
    group = FintrustGroup(name="demo")
    group.add_command(main.commands["signature"])
    result = CliRunner().invoke(group, ["signature", "verify", "--help"])
    assert result.exit_code == 0
    assert "--public-key" in result.stdout


# ------------------------------------------------------------------------------- keys generate


def generate(directory: Path, *extra: str) -> Result:
    return run(
        [
            "keys",
            "generate",
            "--private-key",
            str(directory / "priv.pem"),
            "--public-key",
            str(directory / "pub.pem"),
            *extra,
        ]
    )


def test_keys_generate_writes_a_private_key_readable_only_by_its_owner(tmp_path: Path) -> None:
    result = generate(tmp_path)
    assert result.exit_code == 0, result.output

    private_file, public_file = tmp_path / "priv.pem", tmp_path / "pub.pem"
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    # stdout is exactly the public key PEM, and it matches the private key
    assert result.stdout == public_file.read_text("ascii")
    public_key = load_public_key(result.stdout)
    private_key = load_private_key(private_file.read_bytes())
    assert private_key.public_key().public_numbers() == public_key.public_numbers()
    assert public_key.key_size == 2048
    # the private key is never printed; stderr carries the instructions
    assert "PRIVATE KEY" not in result.output
    assert "integration team" in result.stderr
    assert "secret" in result.stderr
    assert "live" in result.stderr


def test_keys_generate_default_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(["keys", "generate", "--bits", "3072"])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "merchant_private.pem").stat().st_mode) == 0o600
    assert load_public_key((tmp_path / "merchant_public.pem").read_bytes()).key_size == 3072


def test_keys_generate_refuses_to_overwrite(tmp_path: Path) -> None:
    assert generate(tmp_path).exit_code == 0
    before = {name: (tmp_path / name).read_bytes() for name in ("priv.pem", "pub.pem")}

    result = generate(tmp_path)
    assert result.exit_code == 1
    assert "refusing to overwrite" in result.stderr
    assert "--force" in result.stderr
    assert result.stdout == ""
    assert {name: (tmp_path / name).read_bytes() for name in before} == before


def test_keys_generate_refuses_when_only_the_public_key_exists(tmp_path: Path) -> None:
    (tmp_path / "pub.pem").write_text("someone else's key")
    result = generate(tmp_path)
    assert result.exit_code == 1
    assert not (tmp_path / "priv.pem").exists()
    assert (tmp_path / "pub.pem").read_text() == "someone else's key"


def test_keys_generate_force_replaces_and_keeps_mode_0600(tmp_path: Path) -> None:
    private_file = tmp_path / "priv.pem"
    private_file.write_text("old key")
    private_file.chmod(0o644)
    (tmp_path / "pub.pem").write_text("old public key")

    result = generate(tmp_path, "--force")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(private_file.stat().st_mode) == 0o600
    load_private_key(private_file.read_bytes())
    assert (tmp_path / "pub.pem").read_text("ascii") == result.stdout


def test_keys_generate_usage_errors(tmp_path: Path) -> None:
    same = str(tmp_path / "key.pem")
    result = run(["keys", "generate", "--private-key", same, "--public-key", same])
    assert result.exit_code == 2
    assert not (tmp_path / "key.pem").exists()
    assert generate(tmp_path, "--bits", "1024").exit_code == 2


def test_keys_generate_reports_an_unwritable_directory(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such" / "dir"
    result = generate(missing)
    assert result.exit_code == 1
    assert "cannot write the key pair" in result.stderr


# -------------------------------------------------------------------------- signature verify


@pytest.mark.parametrize("vector", GENUINE, ids=lambda p: p.name)
def test_verify_accepts_every_message_signed_by_trustly_test(vector: Path) -> None:
    result = run(["signature", "verify", str(vector), "--environment", "test"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("signature OK")
    message = decode_json(vector.read_bytes())
    inner = message.get("result") or message.get("params") or message["error"]["error"]
    assert inner["uuid"] in result.stdout
    assert (inner.get("method") or message["method"]) in result.stdout


@pytest.mark.parametrize("vector", GENUINE, ids=lambda p: p.name)
def test_verify_uses_the_test_key_by_default(vector: Path) -> None:
    assert run(["signature", "verify", str(vector)]).exit_code == 0


@pytest.mark.parametrize("vector", TAMPERED, ids=lambda p: p.name)
def test_verify_rejects_tampered_messages_and_shows_the_plaintext(vector: Path) -> None:
    result = run(["signature", "verify", str(vector), "--environment", "test"])
    assert result.exit_code == 1
    assert result.stdout.startswith("signature INVALID")
    expected = PLAINTEXTS[f"messages/trustly-test-signed/{vector.name}"]
    assert expected in result.stdout.splitlines()
    assert "does not verify" in result.stderr
    assert "--environment" in result.stderr


def test_tampered_vectors_exist() -> None:
    assert len(TAMPERED) == 2
    assert len(GENUINE) >= 9


@pytest.mark.parametrize("vector", GENUINE, ids=lambda p: p.name)
def test_verify_rejects_test_messages_with_the_live_key(vector: Path) -> None:
    result = run(["signature", "verify", str(vector), "--environment", "live"])
    assert result.exit_code == 1
    assert "signature INVALID" in result.stdout
    assert "Trustly live key" in result.stdout


def test_verify_displayed_plaintext_is_what_the_library_signs() -> None:
    vector = TRUSTLY_SIGNED / "python_L270_credit_notification.json"
    result = run(["signature", "verify", str(vector), "--environment", "live"])
    message = decode_json(vector.read_bytes())
    params = message["params"]
    expected = plaintext(message["method"], params["uuid"], params["data"]).decode()
    assert expected in result.stdout.splitlines()
    assert "notification" in result.stdout


def test_verify_notification_response_with_a_merchant_public_key() -> None:
    result = run(["signature", "verify", str(NET_REPLY), "--public-key", str(SIGNATURETESTER_KEY)])
    assert result.exit_code == 0, result.output
    assert "signature OK" in result.stdout
    assert "notification response" in result.stdout
    assert "258a2184-2842-b485-25ca-293525152425" in result.stdout
    assert "credit" in result.stdout


def test_verify_accepts_any_of_several_keys() -> None:
    keys = ["--public-key", str(VECTORS / "keys" / "trustly_live_public.pem")]
    keys += ["--public-key", str(SIGNATURETESTER_KEY)]
    assert run(["signature", "verify", str(NET_REPLY), *keys]).exit_code == 0
    # an explicit --environment adds Trustly's key to the --public-key ones
    vector = str(GENUINE[0])
    assert run(["signature", "verify", vector, *keys, "--environment", "test"]).exit_code == 0
    assert run(["signature", "verify", vector, *keys]).exit_code == 1


def test_verify_merchant_signed_message_with_trustly_key_says_what_to_do() -> None:
    result = run(["signature", "verify", str(NET_REPLY)])
    assert result.exit_code == 1
    assert "credit258a2184-2842-b485-25ca-293525152425statusOK" in result.stdout
    assert "--public-key" in result.stderr


@pytest.mark.parametrize("argument", [[], ["-"]])
def test_verify_reads_stdin(argument: list[str]) -> None:
    body = (TRUSTLY_SIGNED / "python_L453_deposit_error-response.json").read_bytes()
    result = run(["signature", "verify", *argument], stdin=body)
    assert result.exit_code == 0, result.output
    assert "API error response" in result.stdout
    assert "ad4f3dbe-6c1d-11e5-9d5e-0800279bcb51" in result.stdout

    tampered = (TRUSTLY_SIGNED / "python_L251_deposit_response_TAMPERED.json").read_bytes()
    assert run(["signature", "verify", *argument], stdin=tampered).exit_code == 1


def test_verify_keeps_decimals_exact(merchant: MerchantKeyFiles, tmp_path: Path) -> None:
    # "20.50" as a JSON number must be checked as 20.50, not 20.5
    message = {"method": "credit", "uuid": UUID, "data": {"amount": Decimal("20.50")}}
    signed = run_sign(merchant, tmp_path, message)
    assert '"amount":20.50' in signed.stdout
    assert verify_with(merchant, signed.stdout).exit_code == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "empty"),
        (b"{not json", "not valid JSON"),
        (b'{"amount": NaN}', "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"version": "1.1"}', "not a Trustly message"),
        (b'{"result": "1"}', "must be a JSON object"),
    ],
)
def test_verify_unreadable_input_exits_1(body: bytes, message: str) -> None:
    result = run(["signature", "verify"], stdin=body)
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""


def test_verify_unsigned_messages_have_nothing_to_verify() -> None:
    unsigned_error = b'{"version":"1.1","error":{"name":"JSONRPCError","code":620,"message":"x"}}'
    result = run(["signature", "verify"], stdin=unsigned_error)
    assert result.exit_code == 1
    assert "nothing to verify" in result.stderr
    assert "unsigned" in result.stderr

    unsigned_reply = {"result": {"method": "credit", "uuid": UUID, "data": {"status": "OK"}}}
    result = run(["signature", "verify"], stdin=json.dumps(unsigned_reply))
    assert result.exit_code == 1
    assert "nothing to verify" in result.stderr
    assert "fintrust signature sign" in result.stderr


def test_verify_missing_file_exits_1(tmp_path: Path) -> None:
    result = run(["signature", "verify", str(tmp_path / "missing.json")])
    assert result.exit_code == 1
    assert "cannot read" in result.stderr


def test_verify_usage_errors_exit_2(tmp_path: Path) -> None:
    vector = str(GENUINE[0])
    assert run(["signature", "verify", vector, "--environment", "prod"]).exit_code == 2
    missing_key = str(tmp_path / "missing.pem")
    assert run(["signature", "verify", vector, "--public-key", missing_key]).exit_code == 2


def test_verify_rejects_a_file_that_is_not_a_public_key(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    result = run(["signature", "verify", str(GENUINE[0]), "--public-key", str(bad)])
    assert result.exit_code == 1
    assert "BEGIN PUBLIC KEY" in result.stderr


@pytest.mark.parametrize("vector", PYTHON_REQUESTS, ids=lambda p: p.name)
def test_verify_requests_never_show_the_password(vector: Path) -> None:
    good = ["signature", "verify", str(vector), "--public-key", str(PYTHON_MERCHANT_KEY)]
    ok = run([*good, "--show-plaintext"])
    bad = run(["signature", "verify", str(vector)])  # wrong key: prints the plaintext
    assert ok.exit_code == 0, ok.output
    assert bad.exit_code == 1
    password = decode_json(vector.read_bytes())["params"]["Data"]["Password"]
    for result in (ok, bad):
        assert password not in result.output
        assert "Password***" in result.stdout
        assert "Password value is shown as ***" in result.stdout


# ---------------------------------------------------------------------------- signature sign


def run_sign(
    merchant: MerchantKeyFiles, tmp_path: Path, message: Any, *extra: str, **env: str
) -> Result:
    path = tmp_path / "unsigned.json"
    path.write_text(_json_with_decimals(message), encoding="utf-8")
    return run(
        ["signature", "sign", str(path), "--private-key", str(merchant.private), *extra], **env
    )


def _json_with_decimals(message: Any) -> str:
    return json.dumps(message, default=_decimal_marker).replace('"@@', "").replace('@@"', "")


def _decimal_marker(value: object) -> str:
    assert isinstance(value, Decimal)
    return f"@@{value}@@"


def verify_with(merchant: MerchantKeyFiles, signed: str) -> Result:
    return run(["signature", "verify", "--public-key", str(merchant.public)], stdin=signed)


REQUEST = {
    "method": "Deposit",
    "params": {
        "UUID": UUID,
        "Data": {
            "Username": "merchant",
            "Password": PASSWORD,
            "NotificationURL": "https://example.com/notify?a=1&b=2",
            "EndUserID": "user@example.com",
            "MessageID": "order-1",
            "Attributes": {
                "Amount": "10.00",
                "Currency": "EUR",
                "Firstname": "Åsa",
                "Nothing": None,
                "Empty": {},
                "List": ["b", "a"],
                "Number": 5,
            },
        },
    },
    "version": "1.1",
}
NOTIFICATION = {
    "method": "credit",
    "params": {
        "uuid": UUID,
        "data": {"amount": "20.00", "currency": "SEK", "orderid": "3931155141"},
    },
    "version": "1.1",
}
NOTIFICATION_REPLY = {
    "result": {"method": "credit", "uuid": UUID, "data": {"status": "OK"}},
    "version": "1.1",
}
BARE = {"method": "Refund", "uuid": UUID, "data": {"OrderID": "1", "Amount": "1.00"}}


def _signature_holder(message: Any) -> tuple[dict[str, Any], str]:
    if "result" in message:
        return message["result"], "signature"
    if "params" in message:
        params = message["params"]
        return params, "Signature" if "UUID" in params else "signature"
    return message, "signature"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        (REQUEST, "API request"),
        (NOTIFICATION, "notification"),
        (NOTIFICATION_REPLY, "notification response"),
        (BARE, "message"),
    ],
    ids=["request", "notification", "notification-reply", "bare"],
)
def test_sign_then_verify_round_trips(
    merchant: MerchantKeyFiles, tmp_path: Path, message: dict[str, Any], kind: str
) -> None:
    signed = run_sign(merchant, tmp_path, message)
    assert signed.exit_code == 0, signed.output
    output = decode_json(signed.stdout)

    # the signature is where the message kind expects it, and everything else is unchanged
    holder, key = _signature_holder(output)
    signature = holder.pop(key)
    assert output == message
    holder[key] = signature
    assert isinstance(signature, str)
    assert signature

    # the library agrees with the command line
    verifier = Verifier.from_pem(merchant.public.read_bytes())
    method = holder.get("method") or output.get("method")
    uuid = holder.get("uuid") or holder.get("UUID")
    data = holder["data"] if "data" in holder else holder["Data"]
    assert verifier.verify(method, uuid, data, signature)

    verified = verify_with(merchant, signed.stdout)
    assert verified.exit_code == 0, verified.output
    assert "signature OK" in verified.stdout
    assert kind in verified.stdout

    # Trustly's key does not verify a merchant-signed message
    assert run(["signature", "verify"], stdin=signed.stdout).exit_code == 1


def test_sign_reads_stdin_and_replaces_an_old_signature(merchant: MerchantKeyFiles) -> None:
    message = json.loads(json.dumps(NOTIFICATION_REPLY))
    message["result"]["signature"] = "old"
    result = run(
        ["signature", "sign", "--private-key", str(merchant.private), "-"],
        stdin=json.dumps(message),
    )
    assert result.exit_code == 0, result.output
    assert decode_json(result.stdout)["result"]["signature"] != "old"
    assert verify_with(merchant, result.stdout).exit_code == 0


def test_sign_output_pretty_prints_when_asked(merchant: MerchantKeyFiles, tmp_path: Path) -> None:
    result = run_sign(merchant, tmp_path, NOTIFICATION, "--indent", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith('{\n  "method": "credit",')
    assert verify_with(merchant, result.stdout).exit_code == 0


def test_signed_then_tampered_message_fails(merchant: MerchantKeyFiles, tmp_path: Path) -> None:
    signed = decode_json(run_sign(merchant, tmp_path, NOTIFICATION).stdout)
    signed["params"]["data"]["amount"] = "2000.00"
    result = verify_with(merchant, json.dumps(signed))
    assert result.exit_code == 1
    assert "amount2000.00" in result.stdout


def test_password_never_appears_in_sign_diagnostics(
    merchant: MerchantKeyFiles, tmp_path: Path
) -> None:
    signed = run_sign(merchant, tmp_path, REQUEST, "--show-plaintext")
    assert signed.exit_code == 0, signed.output
    assert PASSWORD not in signed.stderr
    assert "Password***" in signed.stderr
    # stdout is the signed request itself, which has to carry the credentials to Trustly
    assert decode_json(signed.stdout)["params"]["Data"]["Password"] == PASSWORD

    ok = run(
        ["signature", "verify", "--public-key", str(merchant.public), "--show-plaintext"],
        stdin=signed.stdout,
    )
    failed = run(["signature", "verify"], stdin=signed.stdout)
    assert ok.exit_code == 0
    assert failed.exit_code == 1
    for result in (ok, failed):
        assert PASSWORD not in result.output
        assert "Password***Username" in result.stdout


def test_sign_with_an_encrypted_private_key(tmp_path: Path, merchant: MerchantKeyFiles) -> None:
    key = load_private_key(merchant.private.read_bytes())
    encrypted = tmp_path / "encrypted.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    body = json.dumps(NOTIFICATION_REPLY)
    args = ["signature", "sign", "--private-key", str(encrypted)]

    no_password = run(args, stdin=body)
    assert no_password.exit_code == 1
    assert "--password-env" in no_password.stderr

    unset = run([*args, "--password-env", "FINTRUST_TEST_UNSET_VARIABLE"], stdin=body)
    assert unset.exit_code == 1
    assert "FINTRUST_TEST_UNSET_VARIABLE is not set" in unset.stderr

    wrong = run([*args, "--password-env", "KEY_PASS"], stdin=body, KEY_PASS="nope")
    assert wrong.exit_code == 1
    assert "passphrase" in wrong.stderr
    assert "nope" not in wrong.output

    signed = run([*args, "--password-env", "KEY_PASS"], stdin=body, KEY_PASS="passphrase")
    assert signed.exit_code == 0, signed.output
    assert "passphrase" not in signed.output
    assert verify_with(merchant, signed.stdout).exit_code == 0


def test_sign_error_response(merchant: MerchantKeyFiles, tmp_path: Path) -> None:
    inner = {"method": "Deposit", "uuid": UUID, "data": {"code": 616, "message": "X"}}
    message = {"version": "1.1", "error": {"name": "JSONRPCError", "error": inner}}
    signed = run_sign(merchant, tmp_path, message)
    assert signed.exit_code == 0, signed.output
    assert "signature" in decode_json(signed.stdout)["error"]["error"]
    assert verify_with(merchant, signed.stdout).exit_code == 0

    unsigned = {"version": "1.1", "error": {"name": "JSONRPCError", "code": 620}}
    result = run_sign(merchant, tmp_path, unsigned)
    assert result.exit_code == 1
    assert "nothing to sign" in result.stderr


def test_sign_refuses_unsignable_data(merchant: MerchantKeyFiles, tmp_path: Path) -> None:
    message = {"method": "Deposit", "uuid": UUID, "data": {"Flag": True}}
    result = run_sign(merchant, tmp_path, message)
    assert result.exit_code == 1
    assert "cannot sign" in result.stderr
    assert "'1' or '0'" in result.stderr
    assert result.stdout == ""


def test_sign_rejects_a_public_key_as_private_key(merchant: MerchantKeyFiles) -> None:
    result = run(
        ["signature", "sign", "--private-key", str(merchant.public)],
        stdin=json.dumps(BARE),
    )
    assert result.exit_code == 1
    assert "cannot use" in result.stderr


def test_sign_requires_a_private_key() -> None:
    assert run(["signature", "sign"], stdin=json.dumps(BARE)).exit_code == 2
