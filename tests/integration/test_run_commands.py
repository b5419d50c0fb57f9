"""``fintrust serve``, ``worker`` and ``reconcile``: clear errors for missing settings, and each
command's work against the in-process emulator."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from fintrust.cli import main
from fintrust.domain.ledger import TRUSTLY, LedgerTransaction, Transfer
from fintrust.domain.money import Money
from fintrust.services import payments
from fintrust.trustly import generate_key_pair
from fintrust.web import Services
from tests.e2e.harness import World
from trustly_emulator.testing import SyncASGITransport


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FINTRUST_* variables and no .env file but the test's own."""
    for name in list(os.environ):
        if name.startswith("FINTRUST_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def use_world(monkeypatch: pytest.MonkeyPatch, module: str, services: Services) -> None:
    """The command gets the World's services; closing them is left to the World."""
    monkeypatch.setattr(f"fintrust.cli.{module}.build_services", lambda settings: services)
    monkeypatch.setattr(services.trustly.client, "close", lambda: None)


@pytest.mark.parametrize("command", ["serve", "worker", "reconcile"])
def test_missing_settings_are_named(command: str) -> None:
    result = CliRunner().invoke(main, [command])
    assert result.exit_code == 1
    assert "FINTRUST_TRUSTLY_USERNAME is not set" in result.output
    assert "FINTRUST_TRUSTLY_PASSWORD is not set" in result.output
    assert "fintrust keys generate" in result.output
    assert "Traceback" not in result.output


def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FINTRUST_WORKER_POLL_SECONDS", "often")
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == 1
    assert "FINTRUST_WORKER_POLL_SECONDS" in result.output


def test_a_missing_trustly_public_key_file_is_named(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "merchant_private.pem").write_text("not read before the checks")
    monkeypatch.setenv("FINTRUST_TRUSTLY_USERNAME", "acme")
    monkeypatch.setenv("FINTRUST_TRUSTLY_PASSWORD", "pw")
    monkeypatch.setenv("FINTRUST_TRUSTLY_PUBLIC_KEY_FILE", str(tmp_path / "nowhere.pem"))
    result = CliRunner().invoke(main, ["reconcile"])
    assert result.exit_code == 1
    assert "nowhere.pem does not exist" in result.output


def test_worker_once_sends_the_outbox(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    customer = world.customer()
    payments.start_deposit(
        world.uow,
        customer_id=customer,
        amount=Money.of("10.00", "EUR"),
        notification_url="http://merchant.test/trustly/notifications",
        success_url="http://merchant.test/ok",
        fail_url="http://merchant.test/fail",
        shopper_statement="fintrust",
    )
    use_world(monkeypatch, "worker", world.services)
    result = CliRunner().invoke(main, ["worker", "--once"])
    assert result.exit_code == 0, result.output
    with world.uow() as work:
        assert work.outbox.counts() == {"done": 1}


def test_reconcile_prints_the_books_and_fails_on_a_difference(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_world(monkeypatch, "reconcile", world.services)
    result = CliRunner().invoke(main, ["reconcile"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Every currency matches" in result.output
    with world.uow() as work:  # money Trustly never saw
        work.ledger.record(
            LedgerTransaction(
                "test:unmatched",
                "a credit Trustly does not know",
                (
                    Transfer(
                        str(uuid.uuid4()), TRUSTLY, "liability:suspense", Money.of("5.00", "EUR")
                    ),
                ),
            )
        )
        work.commit()
    result = CliRunner().invoke(main, ["reconcile"], env={"COLUMNS": "120"})
    assert result.exit_code == 1
    assert "EUR" in result.output
    assert "-5.00" in result.output
    assert "differ" in result.output


def test_serve_upgrades_then_runs_the_app(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = world.services.settings.model_copy(update={"acceptance_hook": True})
    services = Services(settings, world.services.engine, world.services.trustly)
    use_world(monkeypatch, "serve", services)
    ran: dict[str, Any] = {}
    upgraded: list[Engine] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: ran.update(app=app, **options))
    monkeypatch.setattr("fintrust.adapters.db.migrate.upgrade", upgraded.append)
    result = CliRunner().invoke(main, ["serve", "--port", "8123"])
    assert result.exit_code == 0, result.output
    assert upgraded == [world.services.engine]
    assert (ran["host"], ran["port"]) == ("127.0.0.1", 8123)
    assert ran["log_config"] is None  # uvicorn logs through our handler, as JSON or console
    transport = SyncASGITransport(ran["app"])
    with httpx.Client(transport=transport, base_url="http://merchant.test") as http:  # closes it
        hook = http.post(
            "/_acceptance/orders", json={"kind": "Withdraw", "amount": "1.00", "currency": "EUR"}
        )
    assert hook.status_code == 501  # served: the setting is on
    assert "Never turn it on in production" in result.output


def test_the_worker_process_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """A worker whose database has no tables logs each failed round as JSON, counts it in its
    metrics and keeps going, until told to stop."""
    private_pem, _ = generate_key_pair()
    (tmp_path / "merchant_private.pem").write_bytes(private_pem)
    with socket.socket() as probe:  # a free port for the worker's metrics
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FINTRUST_")}
    env |= {
        "FINTRUST_TRUSTLY_USERNAME": "acme",
        "FINTRUST_TRUSTLY_PASSWORD": "pw",
        "FINTRUST_TRUSTLY_API_URL": "http://127.0.0.1:9/api/1",  # nothing listens there
        "FINTRUST_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "FINTRUST_WORKER_POLL_SECONDS": "0.1",
        "FINTRUST_WORKER_METRICS_PORT": str(port),
    }
    process = subprocess.Popen(  # noqa: S603 - our own command
        [str(Path(sys.executable).with_name("fintrust")), "worker"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    try:
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            if "reconciliation failed" in line or not line:
                break  # the first round is over: its three jobs failed
        events = [json.loads(line)["event"] for line in lines if line.startswith("{")]
        assert f"metrics at http://127.0.0.1:{port}/metrics" in events
        assert "worker started (every 0.1 s)" in events
        assert "reconciliation failed" in events
        scraped = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        for job in ("outbox", "payouts", "reconcile"):
            assert f'fintrust_worker_jobs_total{{job="{job}",result="failed"}}' in scraped
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)
    assert process.returncode == 0
    assert '"event": "worker stopped"' in rest
