"""``fintrust emulator``: serve (option checks only), merchant, print-config, scenarios, trigger."""

from __future__ import annotations

import json
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
from click.testing import CliRunner, Result
from fastapi import FastAPI, Request, Response

from fintrust.cli import main
from fintrust.trustly import (
    Notification,
    Signer,
    Verifier,
    build_notification_reply,
    generate_key_pair,
    parse_notification,
)
from trustly_emulator import catalogue
from trustly_emulator import cli as emulator_cli
from trustly_emulator._config import key_fingerprint

PASSWORD = "emulator-cli-S3cret!"
PASSWORD_ENV = "ACME_TRUSTLY_PASSWORD"
NOTIFY_URL = "http://merchant.test/notify"


def run(args: Sequence[str], **env: str) -> Result:
    return CliRunner().invoke(main, ["emulator", *args], env=env or None)


@dataclass
class MerchantKeys:
    signer: Signer
    public_file: Path


@pytest.fixture
def merchant_keys(tmp_path: Path) -> MerchantKeys:
    private_pem, public_pem = generate_key_pair()
    public_file = tmp_path / "merchant_public.pem"
    public_file.write_bytes(public_pem)
    return MerchantKeys(Signer.from_pem(private_pem), public_file)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "emulator-data"


def add_acme(data_dir: Path, merchant_keys: MerchantKeys, *extra: str) -> Result:
    result = run(
        [
            "merchant",
            "add",
            "acme",
            "--public-key",
            str(merchant_keys.public_file),
            "--password-env",
            PASSWORD_ENV,
            "--data-dir",
            str(data_dir),
            *extra,
        ]
    )
    assert result.exit_code == 0, result.output
    return result


# ------------------------------------------------------------------------------- the group


def test_group_help_lists_commands() -> None:
    result = run(["--help"])
    assert result.exit_code == 0, result.output
    for command in ("serve", "merchant", "print-config", "scenarios", "trigger"):
        assert command in result.stdout
    top = CliRunner().invoke(main, ["--help"])
    assert "emulator" in top.stdout


def test_lazy_commands_appear_once_their_module_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_acceptance_module.py").write_text(
        "import click\n\n"
        "@click.command()\n"
        "def acceptance_command() -> None:\n"
        '    """Run the acceptance suite."""\n'
        '    click.echo("accepted")\n',
        encoding="utf-8",
    )
    (tmp_path / "fake_half_written_module.py").write_text("VALUE = 1\n", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    group = emulator_cli.EmulatorGroup(name="emulator")
    group.add_lazy_command(
        "acceptance",
        "fake_half_written_module:acceptance_command",  # no such attribute: the next one is used
        "fake_acceptance_module:acceptance_command",
    )
    group.add_lazy_command("missing", "no_such_module_for_fintrust:command")
    group.add_lazy_command("broken", "fake_half_written_module:acceptance_command")
    help_text = CliRunner().invoke(group, ["--help"]).stdout
    assert "acceptance" in help_text
    assert "Run the acceptance suite." in help_text
    assert "missing" not in help_text
    assert "broken" not in help_text
    assert CliRunner().invoke(group, ["acceptance"]).stdout == "accepted\n"
    assert CliRunner().invoke(group, ["missing"]).exit_code == 2  # no such command
    broken = CliRunner().invoke(group, ["broken"])
    assert broken.exit_code == 1
    assert "the broken command is not available" in broken.stderr
    with pytest.raises(ValueError, match=r"package\.module:attribute"):
        group.add_lazy_command("bad", "no-colon")


def test_acceptance_is_registered_lazily() -> None:
    assert emulator_cli.emulator.lazy_commands["acceptance"] == (
        "trustly_emulator.cli._acceptance:acceptance_command",
    )
    assert "acceptance" in run(["--help"]).stdout
    result = run(["acceptance", "--help"])
    assert result.exit_code == 0, result.output
    assert "Check a merchant's notification handling" in result.stdout


# -------------------------------------------------------------------------------- merchant


def test_merchant_add_and_list_never_print_the_password(
    data_dir: Path, merchant_keys: MerchantKeys
) -> None:
    added = add_acme(
        data_dir,
        merchant_keys,
        "--notifications",
        "account,payoutfailed",
        "--balance",
        "EUR=1000",
        "--balance",
        "sek=250.5",
    )
    assert "Added merchant acme" in added.stdout
    assert f"${PASSWORD_ENV}" in added.stdout
    written = json.loads((data_dir / "emulator.json").read_text("utf-8"))
    (entry,) = written["merchants"]
    assert entry["username"] == "acme"
    assert entry["password_env"] == PASSWORD_ENV
    assert "password" not in entry
    assert entry["public_key_pem"] == merchant_keys.public_file.read_text("ascii")
    assert entry["notifications"] == ["account", "payoutfailed"]
    assert entry["balances"] == {"EUR": "1000.00", "SEK": "250.50"}

    listed = run(["merchant", "list", "--data-dir", str(data_dir)], **{PASSWORD_ENV: PASSWORD})
    assert listed.exit_code == 0, listed.output
    assert "acme" in listed.stdout
    assert f"${PASSWORD_ENV} (set)" in listed.stdout
    assert "EUR 1000.00" in listed.stdout
    assert "account, payoutfailed" in listed.stdout
    assert PASSWORD not in listed.output


def test_merchant_add_with_an_inline_password_warns_and_keeps_it_private(
    data_dir: Path, merchant_keys: MerchantKeys
) -> None:
    result = run(
        [
            "merchant",
            "add",
            "bob",
            "--public-key",
            str(merchant_keys.public_file),
            "--password",
            PASSWORD,
            "--data-dir",
            str(data_dir),
        ]
    )
    assert result.exit_code == 0, result.output
    assert PASSWORD not in result.output
    assert "plain text" in result.stderr
    path = data_dir / "emulator.json"
    assert json.loads(path.read_text("utf-8"))["merchants"][0]["password"] == PASSWORD
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    listed = run(["merchant", "list", "--data-dir", str(data_dir)])
    assert "in emulator.json" in listed.stdout
    assert PASSWORD not in listed.output


def test_merchant_add_updates_and_switches_the_password_source(
    data_dir: Path, merchant_keys: MerchantKeys
) -> None:
    add_acme(data_dir, merchant_keys, "--balance", "EUR=10")
    again = run(
        [
            "merchant",
            "add",
            "acme",
            "--public-key",
            str(merchant_keys.public_file),
            "--password",
            PASSWORD,
            "--balance",
            "SEK=5",
            "--data-dir",
            str(data_dir),
        ]
    )
    assert again.exit_code == 0, again.output
    assert "Updated merchant acme" in again.stdout
    (entry,) = json.loads((data_dir / "emulator.json").read_text("utf-8"))["merchants"]
    assert "password_env" not in entry
    assert entry["balances"] == {"EUR": "10.00", "SEK": "5.00"}
    only_balance = run(
        ["merchant", "add", "acme", "--balance", "EUR=20", "--data-dir", str(data_dir)]
    )
    assert only_balance.exit_code == 0, only_balance.output
    (entry,) = json.loads((data_dir / "emulator.json").read_text("utf-8"))["merchants"]
    assert entry["balances"] == {"EUR": "20.00", "SEK": "5.00"}
    assert entry["public_key_pem"] == merchant_keys.public_file.read_text("ascii")
    assert entry["password"] == PASSWORD
    assert PASSWORD not in only_balance.output
    removed = run(["merchant", "remove", "acme", "--data-dir", str(data_dir)])
    assert removed.exit_code == 0, removed.output
    assert json.loads((data_dir / "emulator.json").read_text("utf-8"))["merchants"] == []
    assert run(["merchant", "remove", "acme", "--data-dir", str(data_dir)]).exit_code == 1


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "needs a password"),
        (["--password-env", "X", "--password", "y"], "not both"),
        (["--password-env", "NOT-A-NAME"], "not an environment variable name"),
        (["--password-env", "X", "--notifications", "credit"], "unknown notification credit"),
        (["--password-env", "X", "--balance", "EUR"], "CURRENCY=AMOUNT"),
        (["--password-env", "X", "--balance", "EUR=lots"], "is not an amount"),
    ],
)
def test_merchant_add_rejects_bad_options(
    data_dir: Path, merchant_keys: MerchantKeys, extra: list[str], message: str
) -> None:
    result = run(
        [
            "merchant",
            "add",
            "acme",
            "--public-key",
            str(merchant_keys.public_file),
            "--data-dir",
            str(data_dir),
            *extra,
        ]
    )
    assert result.exit_code == 2
    assert message in result.stderr
    assert not (data_dir / "emulator.json").exists()


def test_a_new_merchant_needs_a_public_key(data_dir: Path) -> None:
    result = run(["merchant", "add", "acme", "--password-env", "X", "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert "needs its public key" in result.stderr


def test_merchant_add_rejects_a_file_that_is_not_a_public_key(
    data_dir: Path, tmp_path: Path
) -> None:
    not_a_key = tmp_path / "notes.txt"
    not_a_key.write_text("hello", encoding="ascii")
    result = run(
        [
            "merchant",
            "add",
            "acme",
            "--public-key",
            str(not_a_key),
            "--password-env",
            "X",
            "--data-dir",
            str(data_dir),
        ]
    )
    assert result.exit_code == 2
    assert "is not a PEM public key" in result.stderr


def test_merchant_list_when_empty_and_when_the_file_is_broken(data_dir: Path) -> None:
    empty = run(["merchant", "list", "--data-dir", str(data_dir)])
    assert empty.exit_code == 0
    assert "No merchants" in empty.stdout
    data_dir.mkdir()
    (data_dir / "emulator.json").write_text("{not json", encoding="utf-8")
    broken = run(["merchant", "list", "--data-dir", str(data_dir)])
    assert broken.exit_code == 1
    assert "is not valid JSON" in broken.stderr


def test_data_dir_comes_from_the_environment(data_dir: Path, merchant_keys: MerchantKeys) -> None:
    result = run(
        [
            "merchant",
            "add",
            "acme",
            "--public-key",
            str(merchant_keys.public_file),
            "--password-env",
            PASSWORD_ENV,
        ],
        FINTRUST_EMULATOR_DATA_DIR=str(data_dir),
    )
    assert result.exit_code == 0, result.output
    assert (data_dir / "emulator.json").exists()


# ---------------------------------------------------------------------------- print-config


def test_print_config_text_creates_the_key_pair(
    data_dir: Path, merchant_keys: MerchantKeys
) -> None:
    add_acme(data_dir, merchant_keys)
    result = run(["print-config", "--data-dir", str(data_dir)], **{PASSWORD_ENV: PASSWORD})
    assert result.exit_code == 0, result.output
    assert "Created the emulator's key pair" in result.stderr
    public_pem = (data_dir / "emulator_public.pem").read_text("ascii")
    assert (data_dir / "emulator_private.pem").exists()
    assert "http://127.0.0.1:8100/api/1" in result.stdout
    assert public_pem in result.stdout
    assert str((data_dir / "emulator_public.pem").resolve()) in result.stdout
    assert "acme" in result.stdout
    assert PASSWORD not in result.output
    assert "PRIVATE KEY" not in result.output
    second = run(["print-config", "--data-dir", str(data_dir)])
    assert "Created" not in second.stderr  # the pair is kept
    assert public_pem in second.stdout


def test_print_config_env(data_dir: Path, merchant_keys: MerchantKeys) -> None:
    add_acme(data_dir, merchant_keys)
    result = run(
        [
            "print-config",
            "--data-dir",
            str(data_dir),
            "--format",
            "env",
            "--base-url",
            "http://localhost:9000/",
        ],
        **{PASSWORD_ENV: PASSWORD},
    )
    assert result.exit_code == 0, result.output
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    assert lines == {
        "FINTRUST_TRUSTLY_API_URL": "http://localhost:9000/api/1",
        "FINTRUST_TRUSTLY_PUBLIC_KEY_FILE": str((data_dir / "emulator_public.pem").resolve()),
        "FINTRUST_TRUSTLY_USERNAME": "acme",
    }
    assert PASSWORD_ENV in result.stderr  # where the password comes from, by name only
    assert PASSWORD not in result.output


def test_print_config_json(data_dir: Path, merchant_keys: MerchantKeys) -> None:
    add_acme(data_dir, merchant_keys)
    result = run(
        ["print-config", "--data-dir", str(data_dir), "--format", "json", "--merchant", "acme"]
    )
    assert result.exit_code == 0, result.output
    config = json.loads(result.stdout)
    assert config["api_url"] == "http://127.0.0.1:8100/api/1"
    assert config["username"] == "acme"
    assert config["password_env"] == PASSWORD_ENV
    assert config["public_key_pem"] == (data_dir / "emulator_public.pem").read_text("ascii")
    assert config["public_key_fingerprint"].startswith("sha256:")
    assert "password" not in config


def test_print_config_unknown_merchant(data_dir: Path) -> None:
    result = run(["print-config", "--data-dir", str(data_dir), "--merchant", "nobody"])
    assert result.exit_code == 2
    assert "no merchant 'nobody'" in result.stderr


# ------------------------------------------------------------------------------- scenarios


def test_scenarios_table_lists_the_whole_catalogue() -> None:
    result = run(["scenarios"])
    assert result.exit_code == 0, result.output
    for entry in catalogue():
        assert entry.id in result.stdout
        assert entry.title in result.stdout
    assert "Trustly" in result.stdout
    assert "emulator" in result.stdout


def test_scenarios_for_one_kind() -> None:
    result = run(["scenarios", "--kind", "AccountPayout"])
    assert result.exit_code == 0, result.output
    assert "payout-failed" in result.stdout
    assert "deposit-ok" not in result.stdout


# ----------------------------------------------------------------------------------- serve


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, str, int, str]]:
    """Calls of the server runner: serve's checks run, nothing binds a port."""
    calls: list[tuple[Any, str, int, str]] = []

    def fake_run(app: Any, host: str, port: int, log_level: str) -> None:
        calls.append((app, host, port, log_level))

    monkeypatch.setattr(emulator_cli, "_run_server", fake_run)
    return calls


ALL_INTERFACES = "0.0.0.0"  # noqa: S104 - what serve must refuse without --allow-remote


@pytest.mark.parametrize("host", [ALL_INTERFACES, "192.168.1.20", "::", "emulator.example"])
def test_serve_refuses_a_non_loopback_host(
    host: str, data_dir: Path, served: list[tuple[Any, str, int, str]]
) -> None:
    result = run(["serve", "--host", host, "--data-dir", str(data_dir)])
    assert result.exit_code == 2
    assert f"refusing to listen on {host}" in result.stderr
    assert "--allow-remote" in result.stderr
    assert "no authentication" in result.stderr
    assert not served
    assert not data_dir.exists()  # refused before creating anything


def test_serve_with_allow_remote(data_dir: Path, served: list[tuple[Any, str, int, str]]) -> None:
    result = run(["serve", "--host", ALL_INTERFACES, "--allow-remote", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert served[0][1:3] == (ALL_INTERFACES, 8100)
    assert "no authentication" in result.stdout


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_serve_on_loopback_prints_where_everything_is(
    host: str, data_dir: Path, merchant_keys: MerchantKeys, served: list[tuple[Any, str, int, str]]
) -> None:
    add_acme(data_dir, merchant_keys)
    result = run(
        [
            "serve",
            "--host",
            host,
            "--port",
            "8123",
            "--data-dir",
            str(data_dir),
            "--base-url",
            "http://emulator.local:8123",
            "--manual-clock",
        ],
        **{PASSWORD_ENV: PASSWORD},
    )
    assert result.exit_code == 0, result.output
    ((app, bound_host, port, _),) = served
    assert (bound_host, port) == (host, 8123)
    assert "http://emulator.local:8123/api/1" in result.stdout
    assert "http://emulator.local:8123/_emulator/" in result.stdout
    assert "http://emulator.local:8123/_emulator/docs" in result.stdout
    assert key_fingerprint((data_dir / "emulator_public.pem").read_text()) in result.stdout
    assert "acme" in result.stdout
    assert PASSWORD not in result.output
    emulator = app.state.emulator
    assert emulator.store.merchants["acme"].password == PASSWORD
    assert emulator.config.base_url == "http://emulator.local:8123"


def test_serve_needs_the_password_variables(
    data_dir: Path,
    merchant_keys: MerchantKeys,
    served: list[tuple[Any, str, int, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    add_acme(data_dir, merchant_keys)
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    result = run(["serve", "--data-dir", str(data_dir)])
    assert result.exit_code == 1
    assert (
        f"merchant 'acme': set the environment variable {PASSWORD_ENV} to its API password"
        in result.stderr
    )
    assert not served


# --------------------------------------------------------------------------------- trigger


@dataclass
class Receiver:
    """The merchant's NotificationURL, in-process."""

    signer: Signer
    verifier: Verifier
    status_code: int = 200
    received: list[Notification] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/notify")
        async def notify(request: Request) -> Response:
            notification = parse_notification(await request.body(), self.verifier)
            self.received.append(notification)
            if self.status_code != 200:
                return Response("<h1>Internal Server Error</h1>", status_code=self.status_code)
            reply = build_notification_reply(notification.method, notification.uuid, self.signer)
            return Response(reply, media_type="application/json")

        return app


@pytest.fixture
def receiver(
    data_dir: Path, merchant_keys: MerchantKeys, monkeypatch: pytest.MonkeyPatch
) -> Receiver:
    """A data directory with the emulator's keys and merchant acme, and a receiver that the
    trigger command's HTTP client reaches in-process."""
    add_acme(data_dir, merchant_keys, "--notifications", "account")
    assert run(["print-config", "--data-dir", str(data_dir)]).exit_code == 0
    verifier = Verifier.from_pem((data_dir / "emulator_public.pem").read_bytes())
    target = Receiver(merchant_keys.signer, verifier)
    app = target.app()

    def client(timeout: float) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), timeout=timeout)

    monkeypatch.setattr(emulator_cli, "http_client_factory", client)
    return target


def trigger(data_dir: Path, *args: str) -> Result:
    return run(["trigger", *args, "--notification-url", NOTIFY_URL, "--data-dir", str(data_dir)])


def test_trigger_delivers_every_notification(receiver: Receiver, data_dir: Path) -> None:
    result = trigger(
        data_dir,
        "D1",
        "--amount",
        "250.00",
        "--currency",
        "sek",
        "--orderid",
        "1234567890",
        "--enduserid",
        "user-7",
    )
    assert result.exit_code == 0, result.output
    assert [n.method for n in receiver.received] == ["pending", "account", "credit", "debit"]
    credit = next(n for n in receiver.received if n.method == "credit")
    assert credit.raw_data["amount"] == "250.00"
    assert credit.raw_data["currency"] == "SEK"
    assert credit.raw_data["orderid"] == "1234567890"
    assert credit.raw_data["enduserid"] == "user-7"
    out = result.stdout
    for notification in receiver.received:
        assert notification.method in out
        assert str(notification.notification_id) in out
    assert out.count("delivered") >= 4
    assert "+5s" in out  # D1's debit comes 5 s later, on the skipped clock
    assert "4 notifications sent, each delivered with a valid reply." in out
    assert "not checked" not in out
    assert "debited" in out


@pytest.mark.parametrize("scenario_id", [entry.id for entry in catalogue()])
def test_trigger_runs_every_scenario(receiver: Receiver, data_dir: Path, scenario_id: str) -> None:
    result = trigger(data_dir, scenario_id)
    assert result.exit_code == 0, result.output
    assert f"Scenario {scenario_id}:" in result.stdout


def test_trigger_overrides_notification_data(receiver: Receiver, data_dir: Path) -> None:
    result = trigger(
        data_dir,
        "deposit-ok",
        "--override",
        "credit:amount=5.00",
        "--override",
        "messageid=custom-message",
    )
    assert result.exit_code == 0, result.output
    data = {n.method: n.raw_data for n in receiver.received}
    assert data["credit"]["amount"] == "5.00"
    assert data["pending"]["amount"] == "10.00"
    assert {d["messageid"] for d in data.values()} == {"custom-message"}


def test_trigger_fails_when_the_merchant_answers_500(receiver: Receiver, data_dir: Path) -> None:
    receiver.status_code = 500
    result = trigger(data_dir, "deposit-ok", "--attempts", "2")
    assert result.exit_code == 1
    assert len(receiver.received) == 6  # three notifications, two attempts each
    out = result.stdout
    assert "failed" in out
    assert "500" in out
    assert "invalid reply (HTTP 500)" in out
    assert "<h1>Internal Server Error</h1>" in out  # the last reply, for debugging
    assert "3 of 3 notifications not delivered with a valid reply." in out


def test_trigger_without_the_merchant_key_does_not_check_signatures(
    receiver: Receiver, data_dir: Path, tmp_path: Path
) -> None:
    raw = json.loads((data_dir / "emulator.json").read_text("utf-8"))
    del raw["merchants"][0]["public_key_pem"]
    (data_dir / "emulator.json").write_text(json.dumps(raw), encoding="utf-8")
    result = trigger(data_dir, "deposit-ok")
    assert result.exit_code == 0, result.output
    assert "ok (signature not checked)" in result.stdout
    assert "Reply signatures were not checked" in result.stdout

    _, public_pem = generate_key_pair()  # another merchant's key: replies fail
    other = tmp_path / "other_public.pem"
    other.write_bytes(public_pem)
    checked = trigger(data_dir, "deposit-ok", "--merchant-public-key", str(other))
    assert checked.exit_code == 1
    assert "invalid reply (HTTP 200): reply signature does not verify" in checked.stdout


def test_trigger_skips_notifications_the_merchant_turned_off(
    receiver: Receiver, data_dir: Path
) -> None:
    result = trigger(data_dir, "payout-ok")
    assert result.exit_code == 0, result.output
    assert receiver.received == []
    assert "not sent" in result.stdout
    assert "turned off" in result.stdout


def test_trigger_needs_the_emulator_keys(tmp_path: Path) -> None:
    result = trigger(tmp_path / "nothing-here", "deposit-ok")
    assert result.exit_code == 1
    assert "no emulator key pair" in result.stderr
    assert "print-config" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["deposit-okk"], "Did you mean deposit-ok"),
        (["deposit-ok", "--kind", "Withdraw"], "is for Deposit orders, not Withdraw"),
        (["deposit-ok", "--amount", "-1"], "must be positive"),
        (["deposit-ok", "--override", "amount"], "KEY=VALUE"),
        (["deposit-ok", "--merchant", "nobody"], "no merchant 'nobody'"),
    ],
)
def test_trigger_rejects_bad_options(
    receiver: Receiver, data_dir: Path, args: list[str], message: str
) -> None:
    result = trigger(data_dir, *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert receiver.received == []


def test_trigger_rejects_a_url_that_is_not_http(tmp_path: Path) -> None:
    result = run(
        [
            "trigger",
            "deposit-ok",
            "--notification-url",
            "ftp://x/notify",
            "--data-dir",
            str(tmp_path),
        ]
    )
    assert result.exit_code == 2
    assert "is not an http(s) URL" in result.stderr


def test_commands_have_examples_in_their_help() -> None:
    for command in ("serve", "print-config", "scenarios", "trigger"):
        result = run([command, "--help"])
        assert result.exit_code == 0
        assert "Example" in result.stdout
    assert isinstance(emulator_cli.emulator, click.Group)
