"""``fintrust demo``: the merchant app, the Trustly emulator and the worker in one process.

Everything lives in one directory (``./.demo`` by default): the merchant's key pair, the SQLite
database, and the emulator's data directory (its key pair and ``emulator.json``, so that
``fintrust emulator acceptance --data-dir`` signs as the emulator the demo trusts). Both servers
listen on loopback only. This is the one module of fintrust that imports ``trustly_emulator``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from fintrust.cli._services import build_services, load_settings

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["demo"]

HOST = "127.0.0.1"
DEFAULT_PORT, DEFAULT_EMULATOR_PORT = 8000, 8100
USERNAME = "fintrust-demo"
MARKER = ".fintrust-demo"  # --reset removes only a directory that the demo created
NOTIFICATIONS = ["account", "payoutconfirmation", "payoutfailed"]


@dataclass(frozen=True)
class DemoCustomer:
    end_user_id: str
    firstname: str
    lastname: str
    country: str
    locale: str
    currency: str
    login: str  # what to type at the emulator's bank login


CUSTOMERS = (
    DemoCustomer("demo-asa", "Åsa", "Öberg", "SE", "sv_SE", "SEK", "19900101-1234"),
    DemoCustomer("demo-marta", "Märta", "Åström", "SE", "sv_SE", "EUR", "19850505-5678"),
    DemoCustomer("demo-vaino", "Väinö", "Mäkelä", "FI", "fi_FI", "EUR", "010190-123A"),
)


@click.command("demo", short_help="Run the merchant app, the Trustly emulator and the worker.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".demo"),
    show_default=True,
    help="Where the demo keeps its keys, database and emulator data.",
)
@click.option("--reset", is_flag=True, help="Start over: remove the demo's data directory first.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help=f"The merchant app's port [default: {DEFAULT_PORT} if free, else any; 0: any].",
)
@click.option(
    "--emulator-port",
    type=click.IntRange(0, 65535),
    help=f"The emulator's port [default: {DEFAULT_EMULATOR_PORT} if free, else any; 0: any].",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default="warning",
    show_default=True,
    help="Log level of the servers (the worker always says what it sends).",
)
def demo(
    *, data_dir: Path, reset: bool, port: int | None, emulator_port: int | None, log_level: str
) -> None:
    """Run the whole thing on this machine, with nothing to set up: the merchant app (wallet
    pages, merchant API, notification endpoint), an offline Trustly emulator with its bank
    pages, and the worker that sends payouts, all on SQLite, with demo customers.

    Prints the URL to open and, as one line, the `fintrust emulator acceptance` command that
    plays every Trustly scenario against the running demo. Ctrl-C stops it; run it again to
    carry on where you left off (the emulator starts empty each time), or with --reset to start
    over.

    \b
    Examples:
      fintrust demo
      fintrust demo --reset --port 9000 --emulator-port 9100
    """
    from fintrust.logs import configure_logging  # noqa: PLC0415 - keep --help fast

    data_dir = data_dir.absolute()
    configure_logging(log_level)
    logging.getLogger("fintrust.worker").setLevel(logging.INFO)
    if reset:
        _remove(data_dir)
    emulator_dir = data_dir / "emulator"
    _create(data_dir)
    private_key, public_pem = _merchant_keys(data_dir)
    password = _emulator_merchant(emulator_dir, public_pem)
    app_socket = _listen(port, DEFAULT_PORT, "--port")
    emulator_socket = _listen(emulator_port, DEFAULT_EMULATOR_PORT, "--emulator-port")
    app_url = _url(app_socket)
    emulator_url = _url(emulator_socket)
    emulator_app = _emulator_app(emulator_dir, emulator_url)
    settings = load_settings(
        _env_file=None,  # a production .env in this directory must not leak into the demo
        database_url=f"sqlite:///{data_dir / 'fintrust.sqlite3'}",
        trustly_api_url=f"{emulator_url}/api/1",
        trustly_username=USERNAME,
        trustly_password=password,
        trustly_private_key_file=private_key,
        trustly_public_key_file=emulator_dir / "emulator_public.pem",
        trustly_environment="test",
        notification_url=f"{app_url}/trustly/notifications",
        public_base_url=app_url,
        shopper_statement="fintrust demo",
        acceptance_hook=True,
        worker_poll_seconds=1.0,
    )
    services = build_services(settings)
    try:
        from fintrust.adapters.db.migrate import upgrade  # noqa: PLC0415
        from fintrust.web.app import create_app  # noqa: PLC0415

        upgrade(services.engine)
        customers = _seed(services)
        stop = threading.Event()
        with (
            _signals(stop),
            _running(
                [(create_app(services), app_socket), (emulator_app, emulator_socket)],
                services,
                stop,
                log_level,
            ),
        ):
            _banner(data_dir, emulator_dir, app_url, emulator_url, customers)
            while not stop.wait(0.5):
                pass
            click.echo("Stopping the demo…", err=True)
    finally:
        services.engine.dispose()
        services.trustly.client.close()


# ----------------------------------------------------------------------------- the directory


def _create(data_dir: Path) -> None:
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        (data_dir / MARKER).touch()
    except OSError as exc:
        raise click.ClickException(
            f"cannot use {data_dir}: {exc.strerror or exc}; choose another with --data-dir"
        ) from None


def _remove(data_dir: Path) -> None:
    if not data_dir.exists() or not any(data_dir.iterdir()):
        return
    if not (data_dir / MARKER).exists():
        raise click.ClickException(
            f"{data_dir} was not created by `fintrust demo` (no {MARKER} in it); refusing to "
            "remove it. Choose the demo's directory with --data-dir."
        )
    shutil.rmtree(data_dir)


def _merchant_keys(data_dir: Path) -> tuple[Path, str]:
    """The merchant's key pair, generated on the first run."""
    from fintrust.trustly import write_key_pair  # noqa: PLC0415

    private_path, public_path = data_dir / "merchant_private.pem", data_dir / "merchant_public.pem"
    if not private_path.exists():
        public_path.unlink(missing_ok=True)
        write_key_pair(private_path, public_path)
    return private_path, public_path.read_text(encoding="ascii")


def _emulator_merchant(emulator_dir: Path, public_pem: str) -> str:
    """Write the demo merchant into the emulator's ``emulator.json``; returns its password
    (generated once, kept there: the emulator listens on loopback only)."""
    path = emulator_dir / "emulator.json"
    raw: dict[str, Any] = {}
    if path.exists():
        with contextlib.suppress(ValueError, OSError):
            raw = json.loads(path.read_text(encoding="utf-8"))
    merchants: list[dict[str, Any]] = raw.get("merchants", [])
    old = next((m for m in merchants if m.get("username") == USERNAME), {})
    password = str(old.get("password") or secrets.token_urlsafe(18))
    raw["merchants"] = [
        {
            "username": USERNAME,
            "password": password,
            "public_key_pem": public_pem,
            "notifications": NOTIFICATIONS,
        }
    ]
    emulator_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(raw, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    return password


def _emulator_app(emulator_dir: Path, base_url: str) -> Any:
    from trustly_emulator import (  # noqa: PLC0415 - only the demo runs the emulator
        Emulator,
        EmulatorConfig,
        EmulatorKeys,
        SystemClock,
        create_app,
    )

    try:
        keys = EmulatorKeys.load_or_create(emulator_dir)
        config = EmulatorConfig.from_data_dir(emulator_dir, base_url=base_url)
    except (OSError, ValueError) as exc:
        raise click.ClickException(
            f"cannot set up the emulator in {emulator_dir}: {exc}; start over with --reset"
        ) from None
    # The system clock and background delivery: notifications arrive as they fall due.
    return create_app(Emulator(config, clock=SystemClock(), keys=keys))


def _seed(services: Services) -> list[DemoCustomer]:
    """The demo customers, registered once."""
    from fintrust.services.customers import register_customer  # noqa: PLC0415

    for customer in CUSTOMERS:
        with services.uow() as work:
            exists = work.customers.by_end_user_id(customer.end_user_id) is not None
        if not exists:
            register_customer(
                services.uow,
                end_user_id=customer.end_user_id,
                firstname=customer.firstname,
                lastname=customer.lastname,
                country=customer.country,
                locale=customer.locale,
                currency=customer.currency,
            )
    return list(CUSTOMERS)


# ----------------------------------------------------------------------------- servers


def _listen(port: int | None, default: int, option: str) -> socket.socket:
    """A listening socket on loopback: ``port``, or ``default`` when free, else any."""
    wanted = [port] if port is not None else [default, 0]
    for candidate in wanted:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, candidate))
        except OSError as exc:
            sock.close()
            if port is None and exc.errno == errno.EADDRINUSE:
                continue
            raise click.BadParameter(
                f"cannot listen on {HOST}:{candidate}: {exc.strerror or exc}", param_hint=option
            ) from None
        sock.listen(128)
        return sock
    raise click.ClickException("no free port on 127.0.0.1")  # pragma: no cover


def _url(sock: socket.socket) -> str:
    return f"http://{HOST}:{sock.getsockname()[1]}"


@contextlib.contextmanager
def _signals(stop: threading.Event) -> Iterator[None]:
    def _stop(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@contextlib.contextmanager
def _running(
    apps: list[tuple[Any, socket.socket]],
    services: Services,
    stop: threading.Event,
    log_level: str,
) -> Iterator[None]:
    """Each server on its own thread and event loop (a blocking call in one never stalls the
    other), and the worker on a third; all stopped on the way out."""
    import uvicorn  # noqa: PLC0415

    from fintrust.worker import run_worker  # noqa: PLC0415

    servers = [
        uvicorn.Server(uvicorn.Config(app, log_level=log_level, log_config=None, access_log=False))
        for app, _ in apps
    ]
    threads = [
        threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"server-{i}")
        for i, (server, (_, sock)) in enumerate(zip(servers, apps, strict=True))
    ]
    threads.append(threading.Thread(target=run_worker, args=(services, stop), name="worker"))
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while not all(server.started for server in servers):
            if time.monotonic() > deadline or not all(t.is_alive() for t in threads):
                raise click.ClickException("the servers did not start; see the log above")
            time.sleep(0.05)
        yield
    finally:
        stop.set()
        for server in servers:
            server.should_exit = True
        for thread in threads:
            thread.join(timeout=10)


def _banner(
    data_dir: Path,
    emulator_dir: Path,
    app_url: str,
    emulator_url: str,
    customers: list[DemoCustomer],
) -> None:
    bold = {"bold": True}
    say = click.echo
    say()
    say(click.style("fintrust demo is running", fg="green", **bold) + f"  (data in {data_dir})")
    say()
    say(f"  Open the demo:        {app_url}/")
    say(f"  Emulator inspector:   {emulator_url}/_emulator/")
    say(f"  Merchant API docs:    {app_url}/docs")
    say()
    say(click.style("Try it:", **bold))
    names = ", ".join(f"{c.firstname} {c.lastname} ({c.currency})" for c in customers)
    say(f"  1. Open {app_url}/ and sign in as a demo customer: {names}.")
    say("  2. Deposit an amount. The emulator's checkout opens in the page: pick a bank, log in")
    logins = ", ".join(dict.fromkeys(f"{c.login} ({c.country})" for c in customers))
    say(f"     with e.g. {logins}, choose an account and confirm.")
    say("  3. Watch the balance change when Trustly's credit notification arrives; the")
    say("     inspector shows every notification and the app's reply.")
    say("  4. Withdraw part of it: it is reserved at once, paid out to the account you deposited")
    say("     from, and posted when the payoutconfirmation arrives a minute later.")
    say()
    say(click.style("Play every Trustly scenario against this demo (in another terminal):", **bold))
    command = [
        "fintrust",
        "emulator",
        "acceptance",
        "--notification-url",
        f"{app_url}/trustly/notifications",
        "--hook-url",
        f"{app_url}/_acceptance",
        "--data-dir",
        str(emulator_dir),
    ]
    say(shlex.join(command))
    say()
    say("Ctrl-C stops the demo.")
    sys.stdout.flush()
