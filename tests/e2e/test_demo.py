"""``fintrust demo`` as a user runs it: a real process on loopback ports, then the acceptance
command it prints, run as printed."""

from __future__ import annotations

import os
import queue
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

FINTRUST = Path(sys.executable).with_name("fintrust")
START_TIMEOUT = 60.0
ACCEPTANCE_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Demo:
    """The demo process and the lines it has printed so far."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"}
        env = {k: v for k, v in env.items() if not k.startswith("FINTRUST_")}
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            [str(FINTRUST), "demo", *args],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self.errors: list[str] = []
        self.readers = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_errors, daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def _read_errors(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.errors.append(line.rstrip("\n"))

    def wait_for(self, prefix: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if line.strip().startswith(prefix):
                return line.strip()
        pytest.fail(
            f"the demo never printed {prefix!r}; stdout: {self.seen}; stderr: {self.errors[-20:]}"
        )

    def value(self, label: str) -> str:
        line = next(line for line in self.seen if line.strip().startswith(label))
        return line.split(label, 1)[1].strip()

    def stop(self, how: signal.Signals = signal.SIGINT) -> int:
        """Ctrl-C (SIGINT) or terminate (SIGTERM): either stops the demo cleanly."""
        if self.process.poll() is None:
            self.process.send_signal(how)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.close()
                pytest.fail(f"the demo did not stop within 30 s of {how.name}")
        self.close()
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for reader in self.readers:
            reader.join(timeout=10)
        for pipe in (self.process.stdout, self.process.stderr):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    args = ["--data-dir", str(tmp_path / "demo")]
    args += ["--port", str(free_port()), "--emulator-port", str(free_port())]
    running = Demo(args, tmp_path)
    yield running
    running.close()


def test_the_demo_serves_and_its_acceptance_command_passes(demo: Demo, tmp_path: Path) -> None:
    command = demo.wait_for("fintrust emulator acceptance", START_TIMEOUT)
    app_url = demo.value("Open the demo:").rstrip("/")
    inspector = demo.value("Emulator inspector:")
    assert app_url.startswith("http://127.0.0.1:")
    assert inspector.startswith("http://127.0.0.1:")
    text = "\n".join(demo.seen)
    assert "Åsa Öberg" in text
    assert "19900101-1234" in text

    with httpx.Client(timeout=10) as http:
        assert http.get(inspector).status_code == 200
        assert http.get(f"{app_url}/docs").status_code == 200
        assert http.get(f"{app_url}/openapi.json").json()["info"]["title"] == "fintrust"
        sign_in = http.get(f"{app_url}/")
        assert sign_in.status_code == 200
        assert "Öberg" in sign_in.text  # the demo customers are there to sign in as

    argv = shlex.split(command)
    assert argv[:3] == ["fintrust", "emulator", "acceptance"]
    assert argv[argv.index("--hook-url") + 1] == f"{app_url}/_acceptance"
    result = subprocess.run(  # noqa: S603 - the printed command, run as printed
        [str(FINTRUST), *argv[1:]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=ACCEPTANCE_TIMEOUT,
        env={**os.environ, "COLUMNS": "200"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " 0 failed" in result.stdout

    assert demo.stop(signal.SIGTERM) == 0
    assert "worker stopped" in "\n".join(demo.errors)


def test_the_demo_picks_up_where_it_left_off_and_reset_starts_over(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    for round_args in ([], ["--reset"]):
        args = ["--data-dir", str(data_dir), "--port", "0", "--emulator-port", "0", *round_args]
        running = Demo(args, tmp_path)
        try:
            running.wait_for("fintrust emulator acceptance", START_TIMEOUT)
        finally:
            assert running.stop() == 0
        assert (data_dir / "merchant_private.pem").exists()
        assert (data_dir / "emulator" / "emulator.json").exists()


def test_reset_refuses_a_directory_the_demo_did_not_create(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("x")
    result = subprocess.run(  # noqa: S603
        [str(FINTRUST), "demo", "--data-dir", str(precious), "--reset", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "refusing to remove it" in result.stderr
    assert (precious / "keep.txt").exists()
