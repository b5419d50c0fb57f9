"""How many Trustly notifications per second does the merchant app book, against a floor?

A benchmark, never run as a test.

Run it with ``.venv/bin/python bench/notifications.py``; ``--quick`` for a short run; ``--check``
to exit 1 when a goal is missed; ``--workers 1|2`` for the uvicorn processes of both servers;
``--history N`` to start from a database that already holds N orders (default: an empty one);
``--profile`` to then profile the app (py-spy on its workers, a count of database round trips
per notification, and samples of what its PostgreSQL backends wait for).

What is measured, in one run on one machine, on PostgreSQL (a private schema, dropped at the end):

* **a, the merchant app**: ``fintrust.web.create_app`` (the real notification endpoint:
  ``handle_notification`` in one transaction per request) on uvicorn, configured the way
  production is, through ``Settings`` and ``TrustlyGateway.from_settings``: it trusts a test
  "Trustly" key and signs its replies with a merchant key. It logs as ``fintrust serve`` does
  (``configure_logging`` at info, JSON lines: one per notification), to a file. Before any
  timing, deposit orders are created directly with the repositories (a customer with an empty
  no-overdraft wallet per order, the order in state ``started`` with its Trustly order id). Each
  round fires the three notifications of fresh orders, pre-signed with the test Trustly key:
  ``pending``, ``credit`` and ``account``. They arrive spaced like Trustly's (one order's three
  never back to back) and in every order: the methods rotate per order, so a third of the
  credits come before their pending, a third of the accounts first.
* **b, the floor**: a raw ASGI app (no framework) in the same server setup (uvicorn, same number
  of workers, one port each) that only verifies the notification (``parse_notification``) and signs
  the reply (``build_notification_reply``): the least any merchant must do per notification.

The load comes from this process: ``--concurrency`` (32) keep-alive HTTP/1.1 connections on raw
asyncio streams (httpx would cost ~0.5 ms of this process's CPU per request), each firing the
next pre-built request as soon as its reply is read. Latency is per request, from the write to
the last byte of the reply.

Correctness, checked after every round outside the timing: every reply is HTTP 200, signed by the
merchant key, for the right method and uuid, status OK; in the database every order of the run is
credited exactly once (state, ``credited`` = amount, wallet balance = amount, one ledger
transaction each, ``asset:trustly`` = the sum), every notification has one inbox row (and no
receipt: nothing was repeated or refused), one bank account per customer, no suspense item, and
``ledger.verify() == []`` with every currency balanced. Nothing lost, nothing doubled. A check
that fails stops the run at once with ``FAIL: <what>`` and exit status 1 (with or without
``--check``): figures from a run that lost or doubled money mean nothing.

Workers (``--workers``, default 2): both servers run the same number of uvicorn processes, each
listening on a port of its own (bound with ``IPPROTO_TCP``: see docs/performance.md), and the
connections are spread evenly over them, as a proxy in front of that many ``fintrust serve``
processes would spread them. (On one shared socket, whichever process wakes first accepts a run of
connections: one app process was seen with 72 % of them and batches of ~14, the other with
batches of ~2.) Two is what uses both cores of the 2-core machine this was written on; the
figures for one are in docs/performance.md too.

Rounds alternate a and b (order flipped every other round, an even number of rounds: each side
goes first as often); a pair of rounds is prepared (orders seeded, requests signed) before either
is fired, and checked after both, so its two rounds run back to back. A pair during which
processes not ours used more than ``--quiet`` cores is measured again (at most 3 times). The
report gives medians over rounds, p50 / p99 over all requests of a side, and a / b as the median
of the per-round ratios; CPU per notification of every process (bench, app, floor, our PostgreSQL
backends) shows which one is the bottleneck.

Goals (issue 4, on a 2-core machine): a / b >= 0.5, a >= 1,000 notifications/s, p99 < 50 ms,
nothing lost or doubled. Each is printed PASS or FAIL as measured.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuid_module
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Literal

import cryptography
import psycopg
import sqlalchemy
import starlette
import uvicorn
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, event, func, select, text
from starlette.types import Message, Receive, Scope, Send

import _common
from _common import machine_busy_seconds, percentile, process_cpu, read_stacks, respond
from fintrust.adapters.db.engine import make_engine
from fintrust.adapters.db.migrate import upgrade
from fintrust.adapters.db.schema import (
    bank_accounts,
    ledger_accounts,
    ledger_transactions,
    ledger_transfers,
    notification_inbox,
    notification_receipts,
    orders,
    suspense_items,
)
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import TRUSTLY, totals_balance, wallet
from fintrust.logs import configure_logging
from fintrust.trustly import (
    InvalidNotificationError,
    InvalidSignatureError,
    Signer,
    Verifier,
    build_notification,
    build_notification_reply,
    generate_key_pair,
    parse_notification,
    read_notification_reply,
)

DEFAULT_DATABASE_URL: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
NOTIFY_PATH: Final = "/trustly/notifications"
HOST: Final = "127.0.0.1"
METHODS: Final = ("pending", "credit", "account")
CURRENCY: Final = "EUR"
APP_NAME: Final = "bench-notifications-app"  # application_name of the app's connections
START_TIMEOUT: Final = 60.0
STOP_TIMEOUT: Final = 10.0
REPEATS: Final = 3
SEED_BATCH: Final = 500  # orders per seeding transaction
PROFILE_ROUNDS: Final = 2
PY_SPY_RATE: Final = 250
COUNT_ORDERS: Final = 50  # --profile: orders handled one at a time, exchanges counted
GOALS: Final = {"ratio": 0.5, "rate": 1000.0, "p99_ms": 50.0}

A_NAME: Final = "a  merchant app: handle_notification"
B_NAME: Final = "b  floor: verify + sign"
Kind = Literal["a", "b"]


class BenchError(Exception):
    """Something was wrong: a server failed, a reply or the ledger did not check out."""


# ================================================================================================
# The servers (``bench/notifications.py --role app|floor ...``)
# ================================================================================================


class Floor:
    """The minimal merchant: verify the notification, sign the reply. Raw ASGI, no framework."""

    def __init__(self, trustly_verifier: Verifier, merchant_signer: Signer) -> None:
        self.verifier = trustly_verifier
        self.signer = merchant_signer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] != "POST" or scope["path"] != NOTIFY_PATH:
            await respond(send, 404, b"not found", b"text/plain")
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            note = parse_notification(b"".join(chunks), self.verifier)
        except (InvalidNotificationError, InvalidSignatureError) as exc:
            await respond(send, 400, str(exc).encode(), b"text/plain")
            return
        reply = build_notification_reply(note.method, note.uuid, self.signer, "OK")
        await respond(send, 200, reply, b"application/json")


def app_engine(database_url: str, schema: str, application_name: str) -> Engine:
    """The engine production would make (``make_engine``), pointed at the bench's schema."""
    options = {"options": f"-c search_path={schema}", "application_name": application_name}
    return make_engine(database_url, connect_args=options)


def build_server_app(role: str, keys: Path, database_url: str, schema: str) -> Any:
    if role == "floor":
        return Floor(
            Verifier.from_pem((keys / "trustly_public.pem").read_bytes()),
            Signer.from_pem((keys / "merchant_private.pem").read_bytes()),
        )
    # The merchant app as `fintrust serve` would build it: Settings, TrustlyGateway, Services.
    from fintrust.adapters.trustly import TrustlyGateway  # noqa: PLC0415 - the app server only
    from fintrust.settings import Settings  # noqa: PLC0415
    from fintrust.web import Services, create_app  # noqa: PLC0415

    settings = Settings(
        database_url=database_url,
        trustly_environment="test",
        trustly_private_key_file=keys / "merchant_private.pem",
        trustly_public_key_file=keys / "trustly_public.pem",
        notification_url=f"http://{HOST}/trustly/notifications",
    )
    engine = app_engine(settings.database_url, schema, APP_NAME)
    return create_app(Services(settings, engine, TrustlyGateway.from_settings(settings)))


def serve(role: str, keys: Path, workers: int, database_url: str, schema: str) -> None:
    """Fork ``workers`` uvicorn processes, each listening on a free port of 127.0.0.1 of its own
    (as `fintrust serve` processes behind a proxy), print the ports and their pids, serve until
    stdin closes."""
    children: list[int] = []
    ports: list[int] = []
    for _ in range(workers):
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says
        # TCP, and accepted sockets inherit it; without it Nagle and delayed ACKs add ~40 ms per
        # exchange.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, 0))
        sock.listen(2048)
        ports.append(sock.getsockname()[1])
        pid = os.fork()
        if pid == 0:  # a worker: its own app, engine and connection pool, built after the fork
            code = 0
            try:
                _run_worker(role, keys, database_url, schema, sock)
            except BaseException:  # a worker reports what stopped it and exits, never returns
                import traceback  # noqa: PLC0415

                traceback.print_exc()
                code = 1
            os._exit(code)
        children.append(pid)
        sock.close()
    print(f"PORTS {','.join(map(str, ports))} PIDS {','.join(map(str, children))}", flush=True)

    def stop(*_: object) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with contextlib.suppress(OSError):
        while os.read(0, 4096):  # stdin closes when the bench process exits, however it exits
            pass
    stop()
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _run_worker(role: str, keys: Path, database_url: str, schema: str, sock: socket.socket) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    app = build_server_app(role, keys, database_url, schema)
    if role == "floor":  # bare: no logs
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=120
        )
    else:  # logging as `fintrust serve` logs, JSON lines at info, to a file instead of stderr
        log = (keys / f"app-{os.getpid()}.log").open("a", encoding="utf-8")
        configure_logging("info", log_format="json", stream=log, quiet_paths={NOTIFY_PATH})
        config = uvicorn.Config(
            app, log_level="info", log_config=None, lifespan="off", timeout_keep_alive=120
        )
    server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(server, "should_exit", True))
    server.run(sockets=[sock])


@dataclass
class ServerProcess:
    role: str
    process: subprocess.Popen[bytes]
    ports: list[int]  # one per worker process
    pids: list[int]

    def cpu_seconds(self) -> float:
        return sum(process_cpu(pid) for pid in self.pids)

    def stop(self) -> None:
        _common.stop(self.process, STOP_TIMEOUT)
        for pid in self.pids:  # a worker left behind (the parent was killed): end it too
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@dataclass(frozen=True)
class ServerSetup:
    keys: Path
    workers: int
    database_url: str
    schema: str


def start_server(role: str, setup: ServerSetup) -> ServerProcess:
    command = [sys.executable, str(Path(__file__).resolve()), "--role", role]
    command += ["--keys", str(setup.keys), "--workers", str(setup.workers)]
    command += ["--database-url", setup.database_url, "--schema", setup.schema]
    process, line = _common.launch(command, START_TIMEOUT)
    match = re.fullmatch(r"PORTS ([\d,]+) PIDS ([\d,]+)\s*", line)
    if match is None:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)
        raise BenchError(f"the {role} server did not start (said {line!r})")
    ports = [int(port) for port in match.group(1).split(",")]
    pids = [int(pid) for pid in match.group(2).split(",")]
    server = ServerProcess(role, process, ports, pids)
    try:
        for port in ports:
            asyncio.run(_wait_until_up(port))
    except (OSError, TimeoutError):
        server.stop()
        raise BenchError(f"the {role} server did not answer within {START_TIMEOUT:g} s") from None
    return server


async def _wait_until_up(port: int) -> None:
    async with asyncio.timeout(START_TIMEOUT):
        while True:
            with contextlib.suppress(OSError):
                connection = await HttpConnection.open(port)
                status, _ = await connection.request(b"GET", "/_up", b"")
                connection.close()
                if status == 404:  # both apps answer an unknown path: the worker is serving
                    return
            await asyncio.sleep(0.1)


@contextlib.contextmanager
def running(role: str, setup: ServerSetup) -> Iterator[ServerProcess]:
    server = start_server(role, setup)
    try:
        yield server
    finally:
        server.stop()


# ================================================================================================
# The load: raw HTTP/1.1 keep-alive connections on asyncio streams
# ================================================================================================


class HttpConnection:
    """One keep-alive connection; requests are written whole, replies read by Content-Length."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> HttpConnection:
        reader, writer = await asyncio.open_connection(HOST, port)  # IPPROTO_TCP: no Nagle
        return cls(reader, writer)

    async def request(self, method: bytes, path: str, body: bytes) -> tuple[int, bytes]:
        return await self.send(http_request(method, path, body))

    async def send(self, raw: bytes) -> tuple[int, bytes]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        found = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if found is None:
            raise BenchError(f"a reply without Content-Length: {head!r}")
        return status, await self.reader.readexactly(int(found.group(1)))

    def close(self) -> None:
        self.writer.close()


def http_request(method: bytes, path: str, body: bytes) -> bytes:
    head = (
        f"{method.decode()} {path} HTTP/1.1\r\nHost: {HOST}\r\nUser-Agent: bench\r\n"
        f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass(frozen=True)
class Shot:
    """One pre-signed notification, as the whole HTTP request that carries it."""

    order: int
    method: str
    uuid: str
    request: bytes


@dataclass
class Fired:
    latencies: list[float]
    replies: list[tuple[Shot, int, bytes]]
    seconds: float


async def fire(connections: Sequence[HttpConnection], shots: Sequence[Shot]) -> Fired:
    """Every shot once, one in flight per connection, the next taken as soon as one is answered."""
    latencies: list[float] = []
    replies: list[tuple[Shot, int, bytes]] = []
    queue = iter(shots)

    async def worker(connection: HttpConnection) -> None:
        for shot in queue:  # a shared iterator: each shot is taken by exactly one connection
            started = time.perf_counter()
            status, body = await connection.send(shot.request)
            latencies.append(time.perf_counter() - started)
            replies.append((shot, status, body))

    started = time.perf_counter()
    async with asyncio.timeout(120 + len(shots) / 20):  # bounded: a stuck server fails the round
        await asyncio.gather(*(worker(c) for c in connections))
    return Fired(latencies, replies, time.perf_counter() - started)


# ================================================================================================
# The data: keys, orders, notifications
# ================================================================================================


@dataclass(frozen=True)
class Keys:
    directory: Path
    trustly_signer: Signer  # the test "Trustly" key that signs the notifications
    merchant_verifier: Verifier  # checks the replies


def make_keys(directory: Path) -> Keys:
    pems: dict[str, tuple[bytes, bytes]] = {}
    for who in ("trustly", "merchant"):
        private_pem, public_pem = generate_key_pair()
        (directory / f"{who}_private.pem").write_bytes(private_pem)
        (directory / f"{who}_public.pem").write_bytes(public_pem)
        pems[who] = (private_pem, public_pem)
    return Keys(
        directory,
        Signer.from_pem(pems["trustly"][0]),
        Verifier.from_pem(pems["merchant"][1]),
    )


def amount_minor(n: int) -> int:
    return (10 + n * 37 % 990) * 100 + n * 13 % 100


def order_ids(n: int) -> tuple[str, str, str]:
    """(end user id, message id, Trustly order id) of order ``n``."""
    return f"bench-customer-{n:07d}", f"deposit-bench-{n:07d}", str(4_000_000_000 + n)


# The tables the seeding writes; those only notifications write are left to autovacuum, whose
# work on them is part of what a notification costs.
VACUUMED: Final = ("customers", "orders", "ledger_accounts")


def seed_orders(engine: Engine, first: int, count: int) -> None:
    """Orders ``first`` .. ``first + count - 1``: a customer with an empty no-overdraft wallet
    each, and a started deposit order with its Trustly order id, written with the repositories."""
    for start in range(first, first + count, SEED_BATCH):
        with SqlUnitOfWork(engine) as work:
            for n in range(start, min(start + SEED_BATCH, first + count)):
                end_user_id, message_id, trustly_order_id = order_ids(n)
                customer_id = work.customers.add(
                    end_user_id=end_user_id,
                    name="Åsa Öberg",
                    firstname="Åsa",
                    lastname="Öberg",
                    country="SE",
                    locale="sv_SE",
                )
                work.ledger.account(wallet(customer_id), CURRENCY, no_overdraft=True)
                work.orders.add(
                    kind="deposit",
                    product="wallet",
                    customer_id=customer_id,
                    message_id=message_id,
                    trustly_order_id=trustly_order_id,
                    currency=CURRENCY,
                    amount=amount_minor(n),
                    state="started",
                )
            work.commit()


def seed_history(engine: Engine, count: int) -> None:
    """``count`` orders from before the run, as a deployment's database holds them: a customer
    with a wallet each, a deposit the customer abandoned (cancelled: no money moved) and its
    ``cancel`` notification in the inbox. Inserted in bulk, by SQL: only the tables' sizes
    matter (they decide the plans PostgreSQL chooses), not how the rows came there."""
    prefix = wallet("")
    with engine.begin() as db:
        db.execute(
            text(
                "INSERT INTO customers (end_user_id, name, firstname, lastname, country, locale, "
                "created_at) SELECT 'history-' || g, 'Åsa Öberg', 'Åsa', 'Öberg', 'SE', 'sv_SE', "
                "now() FROM generate_series(1, :count) AS g"
            ),
            {"count": count},
        )
        db.execute(
            text(
                "INSERT INTO ledger_accounts (code, currency, no_overdraft, debits_posted, "
                "credits_posted, debits_pending, credits_pending) SELECT :prefix || id, "
                ":currency, true, 0, 0, 0, 0 FROM customers WHERE end_user_id LIKE 'history-%'"
            ),
            {"prefix": prefix, "currency": CURRENCY},
        )
        db.execute(
            text(
                "INSERT INTO orders (kind, product, customer_id, message_id, trustly_order_id, "
                "currency, amount, state, created_at, updated_at) SELECT 'deposit', 'wallet', id, "
                "'history-' || id, (3000000000 + id)::text, :currency, 1000, 'cancelled', now(), "
                "now() FROM customers WHERE end_user_id LIKE 'history-%'"
            ),
            {"currency": CURRENCY},
        )
        db.execute(
            text(
                "INSERT INTO notification_inbox (notification_id, method, trustly_order_id, "
                "message_id, order_id, reply_status, outcome, received_at, raw_body) SELECT "
                "'history-' || id, 'cancel', trustly_order_id, message_id, id, 'OK', "
                "'cancel: the deposit ended', now(), '{}' FROM orders "
                "WHERE message_id LIKE 'history-%'"
            )
        )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join((*VACUUMED, 'notification_inbox'))}")


def vacuum(engine: Engine) -> None:
    """What autovacuum does in a database whose orders come in steadily: without it, the thousands
    of orders just seeded are vacuumed and analysed during the round, which then measures that
    (each round slower than the one before: a / b fell from ~0.5 to ~0.42 over 5 rounds)."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as db:
        db.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(VACUUMED)}")


def notification_data(n: int, method: str) -> dict[str, Any]:
    """The ``data`` Trustly sends for order ``n`` (shapes as in spec/trustly-protocol.md)."""
    end_user_id, message_id, trustly_order_id = order_ids(n)
    data: dict[str, Any] = {
        "messageid": message_id,
        "orderid": trustly_order_id,
        "notificationid": str(5_000_000_000 + 3 * n + METHODS.index(method)),
        "enduserid": end_user_id,
        "timestamp": f"2026-03-12 15:{n // 60 % 60:02d}:{n % 60:02d}.616710+00",
    }
    if method == "account":
        data["accountid"] = str(6_000_000_000 + n)
        data["verified"] = "1"
        data["attributes"] = {
            "clearinghouse": "SWEDEN",
            "bank": "Handelsbanken",
            "descriptor": "**4321",
            "lastdigits": f"{n % 1_000_000:06d}",
        }
    else:
        minor = amount_minor(n)
        data["amount"] = f"{minor // 100}.{minor % 100:02d}"
        data["currency"] = CURRENCY
        data["attributes"] = {}
    return data


def build_shots(keys: Keys, first: int, count: int, block: int) -> list[Shot]:
    """The notifications of orders ``first`` .. ``first + count - 1``, in firing order.

    Orders go in blocks of ``block`` (twice the concurrency): the block's first notifications,
    then its second ones, then its third, so an order's three are never in flight together (as
    from Trustly, which sends them seconds apart). The methods rotate per order: every arrival
    order of pending / credit / account is exercised."""
    shots: list[Shot] = []
    for start in range(first, first + count, block):
        members = range(start, min(start + block, first + count))
        for step in range(len(METHODS)):
            for n in members:
                method = METHODS[(step + n) % len(METHODS)]
                uuid = str(uuid_module.UUID(int=n * 8 + step + 1, version=4))
                body = build_notification(
                    method, uuid, notification_data(n, method), keys.trustly_signer
                )
                shots.append(Shot(n, method, uuid, http_request(b"POST", NOTIFY_PATH, body)))
    return shots


# ================================================================================================
# Checks (outside the timing)
# ================================================================================================


def check_replies(fired: Fired, verifier: Verifier, side: str) -> None:
    """Every reply: HTTP 200, signed by the merchant, for its notification's method and uuid, OK."""
    for shot, status, body in fired.replies:
        if status != 200:
            raise BenchError(f"{side}: {shot.method} of order {shot.order}: HTTP {status} {body!r}")
        try:
            reply = read_notification_reply(
                body, method=shot.method, uuid=shot.uuid, verifier=verifier
            )
        except (InvalidNotificationError, InvalidSignatureError) as exc:
            raise BenchError(f"{side}: {shot.method} of order {shot.order}: {exc}") from None
        if reply.status != "OK":
            raise BenchError(f"{side}: {shot.method} of order {shot.order} answered {reply.status}")


_RUN_INBOX: Final = notification_inbox.c.notification_id.not_like("history-%")  # --history


def check_ledger(engine: Engine, credited: range) -> None:
    """The books after the app has handled every notification of the orders ``credited``:
    each credited exactly once, nothing lost, nothing doubled, the ledger verified."""
    expected = {order_ids(n)[1]: amount_minor(n) for n in credited}
    total = sum(expected.values())
    problems: list[str] = []
    with SqlUnitOfWork(engine) as work:
        db = work.connection
        rows = db.execute(
            select(orders.c.message_id, orders.c.customer_id, orders.c.state, orders.c.credited)
            .where(orders.c.in_suspense.is_(None))
            .where(orders.c.kind == "deposit")
        ).all()
        found = {row.message_id: row for row in rows}
        wallets = {
            row.code: row.credits_posted - row.debits_posted
            for row in db.execute(
                select(ledger_accounts).where(ledger_accounts.c.code.like("liability:wallet:%"))
            )
        }
        for message_id, minor in expected.items():
            row = found.get(message_id)
            if row is None or row.state != "credited" or row.credited != minor:
                problems.append(f"order {message_id}: {row and (row.state, row.credited)}")
            elif wallets.get(wallet(row.customer_id)) != minor:
                problems.append(f"wallet of {message_id}: {wallets.get(wallet(row.customer_id))}")
        counts = {
            "inbox rows": (notification_inbox, _RUN_INBOX, 3 * len(expected)),
            "receipts (repeats, refusals)": (notification_receipts, None, 0),
            "ledger transactions": (ledger_transactions, None, len(expected)),
            "ledger transfers": (ledger_transfers, None, len(expected)),
            "bank accounts": (bank_accounts, None, len(expected)),
            "suspense items": (suspense_items, None, 0),
        }
        for name, (table, condition, want) in counts.items():
            query = select(func.count()).select_from(table)
            got = db.execute(query if condition is None else query.where(condition)).scalar_one()
            if got != want:
                problems.append(f"{name}: {got}, expected {want}")
        trustly = work.ledger.balance(TRUSTLY, CURRENCY)
        if (trustly.debits_posted, trustly.credits_posted) != (total, 0):
            problems.append(f"asset:trustly {trustly.debits_posted}/{trustly.credits_posted}")
        mismatches = work.ledger.verify()
        if mismatches:
            problems.append(f"ledger.verify(): {mismatches[:3]}")
        if not totals_balance(work.ledger.accounts()):
            problems.append("debits and credits do not balance")
    if problems:
        raise BenchError("the ledger does not match: " + "; ".join(problems[:8]))


# ================================================================================================
# Rounds
# ================================================================================================


@dataclass
class RoundResult:
    kind: Kind
    notifications: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]  # process -> CPU seconds during the round
    backends: int = 0  # PostgreSQL backends of the app seen during the round
    per_transaction: list[float] = field(default_factory=list)  # app: per worker, group commit

    @property
    def rate(self) -> float:
        return self.notifications / self.seconds

    @property
    def others(self) -> float:
        return self.cpu["others"] / self.seconds


@dataclass
class Context:
    keys: Keys
    engine: Engine
    app: ServerProcess
    floor: ServerProcess
    concurrency: int
    per_round: int  # orders per round (3 notifications each)
    connections: dict[Kind, list[HttpConnection]] = field(default_factory=dict)
    backend_cpu: BackendCpu = field(init=False)
    next_order: int = 0
    next_floor_order: int = 0
    profiler: Profiler | None = None


async def connect(ctx: Context) -> None:
    """``concurrency`` connections to each server, spread evenly over its workers' ports (as a
    proxy would spread them), each proven with one exchange."""
    servers: tuple[tuple[Kind, ServerProcess], ...] = (("a", ctx.app), ("b", ctx.floor))
    for kind, server in servers:
        pool: list[HttpConnection] = []
        for index in range(ctx.concurrency):
            connection = await HttpConnection.open(server.ports[index % len(server.ports)])
            await connection.request(b"GET", "/_up", b"")
            pool.append(connection)
        ctx.connections[kind] = pool


class BackendCpu:
    """CPU time of PostgreSQL on the app's behalf over a round: its backends (by
    application_name) and PostgreSQL's own processes. The pool closes and opens connections under
    load, so they are listed every 0.1 s and each one's last CPU reading kept: a process that
    starts during the round counts from zero, one that ends counts until its last reading."""

    def __init__(self, url: str) -> None:
        self.dsn = url.replace("postgresql+psycopg://", "postgresql://")
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._db: psycopg.Connection[Any] | None = None

    def _read(self, *, starting: bool) -> None:
        assert self._db is not None
        # The app's backends, and PostgreSQL's own processes (WAL writer, checkpointer,
        # autovacuum...): their work during a round is mostly the app's.
        query = (
            "SELECT pid FROM pg_stat_activity "
            "WHERE application_name = %s OR backend_type <> 'client backend'"
        )
        for (pid,) in self._db.execute(query, (APP_NAME,)).fetchall():
            cpu = process_cpu(int(pid))
            if cpu:
                self.first.setdefault(int(pid), cpu if starting else 0.0)
                self.last[int(pid)] = cpu

    def start(self) -> None:
        self.first.clear()
        self.last.clear()
        self._db = psycopg.connect(self.dsn, autocommit=True)
        self._read(starting=True)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stopping.wait(0.1):
            self._read(starting=False)

    def stop(self) -> float:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
        self._read(starting=False)
        if self._db is not None:
            self._db.close()
        return sum(self.last[pid] - self.first[pid] for pid in self.last)

    @property
    def backends(self) -> int:
        return len(self.last)  # PostgreSQL's own processes included


def cpu_now(ctx: Context) -> dict[str, float]:
    cpu = {
        "bench": time.process_time(),
        "app": ctx.app.cpu_seconds(),
        "floor": ctx.floor.cpu_seconds(),
        "machine": machine_busy_seconds(),
    }
    for index, pid in enumerate(ctx.app.pids):  # each app worker's share (are they balanced?)
        cpu[f"app worker {index + 1}"] = process_cpu(pid)
    return cpu


def prepare_round(ctx: Context, kind: Kind, orders_count: int) -> list[Shot]:
    """A round's requests, built (and for a, its orders seeded) before any clock starts."""
    if kind == "a":
        first = ctx.next_order
        ctx.next_order += orders_count
        seed_orders(ctx.engine, first, orders_count)  # fresh orders, before the clock starts
        vacuum(ctx.engine)
    else:  # the floor has no state: it gets the same kind of notifications, of other orders
        first = 10_000_000 + ctx.next_floor_order
        ctx.next_floor_order += orders_count
    return build_shots(ctx.keys, first, orders_count, 2 * ctx.concurrency)


async def fire_round(ctx: Context, kind: Kind, shots: Sequence[Shot]) -> tuple[RoundResult, Fired]:
    """Fire a prepared round and measure it; checked afterwards by :func:`check_round`."""
    gc.collect()
    batches_before = await batch_totals(ctx) if kind == "a" else []
    profiler = ctx.profiler if kind == "a" else None
    if profiler is not None:
        profiler.start()
    ctx.backend_cpu.start()
    before = cpu_now(ctx)
    fired = await fire(ctx.connections[kind], shots)
    after = cpu_now(ctx)
    after["postgres"] = ctx.backend_cpu.stop()
    per_transaction = [
        (notes - notes_before) / max(1.0, count - count_before)
        for (notes_before, count_before), (notes, count) in zip(
            batches_before, await batch_totals(ctx) if kind == "a" else [], strict=True
        )
    ]
    before["postgres"] = 0.0
    if profiler is not None:
        profiler.stop()
    cpu = {name: after[name] - before[name] for name in before}
    workers = {name: cpu.pop(name) for name in list(cpu) if name.startswith("app worker")}
    cpu["others"] = max(0.0, cpu.pop("machine") - sum(cpu.values()))
    cpu.update(workers)
    result = RoundResult(
        kind,
        len(shots),
        fired.seconds,
        fired.latencies,
        cpu,
        ctx.backend_cpu.backends,
        per_transaction,
    )
    return result, fired


def check_round(ctx: Context, kind: Kind, fired: Fired) -> None:
    check_replies(fired, ctx.keys.merchant_verifier, A_NAME if kind == "a" else B_NAME)
    if kind == "a":
        check_ledger(ctx.engine, range(0, ctx.next_order))


async def run_round(ctx: Context, kind: Kind, orders_count: int) -> RoundResult:
    """One side alone (the warm-up, profiling)."""
    result, fired = await fire_round(ctx, kind, prepare_round(ctx, kind, orders_count))
    check_round(ctx, kind, fired)
    return result


async def run_pair(ctx: Context, order: Sequence[Kind]) -> dict[Kind, RoundResult]:
    """A round of each side, in ``order``, fired back to back: both are prepared first and
    checked after, so the two are measured seconds apart at most (this machine's speed drifts
    over seconds: the ratio of two rounds measured further apart is noisier)."""
    shots = {kind: prepare_round(ctx, kind, ctx.per_round) for kind in order}
    fired = {kind: await fire_round(ctx, kind, shots[kind]) for kind in order}
    for kind, (_, replies) in fired.items():
        check_round(ctx, kind, replies)
    return {kind: result for kind, (result, _) in fired.items()}


async def batch_totals(ctx: Context) -> list[tuple[float, float]]:
    """Each app worker's notifications and transactions so far (its /metrics: the group commit's
    batch sizes); connection i goes to worker i % workers, so the first ones reach each."""
    totals = []
    for connection in ctx.connections["a"][: len(ctx.app.ports)]:
        _, body = await connection.request(b"GET", "/metrics", b"")
        found = dict(re.findall(rb"(?m)^fintrust_notification_batch_size_(sum|count) (\S+)$", body))
        totals.append((float(found[b"sum"]), float(found[b"count"])))
    return totals


async def measure(
    ctx: Context, rounds: int, quiet: float, console: Console
) -> tuple[list[RoundResult], list[RoundResult]]:
    warm = max(2 * ctx.concurrency, ctx.per_round // 5)
    console.print(f"warm-up and correctness check ({warm} orders each)...", style="dim")
    await run_round(ctx, "a", warm)
    await run_round(ctx, "b", warm)
    a_rounds: list[RoundResult] = []
    b_rounds: list[RoundResult] = []
    for index in range(rounds):
        for attempt in range(1, REPEATS + 2):
            pair = await run_pair(ctx, ("a", "b") if index % 2 == 0 else ("b", "a"))
            a, b = pair["a"], pair["b"]
            busy = max(a.others, b.others)
            console.print(
                f"  round {index + 1}/{rounds}: a {a.rate:,.0f}/s  b {b.rate:,.0f}/s  "
                f"a/b {a.rate / b.rate:.3f}   other processes: {a.others:.2f} / {b.others:.2f} "
                "cores",
                style="dim",
            )
            if busy <= quiet or attempt > REPEATS:
                break
            console.print(
                f"    other processes used {busy:.2f} cores (> {quiet:g}): measuring it again",
                style="dim",
            )
            await asyncio.sleep(2)
        a_rounds.append(a)
        b_rounds.append(b)
    return a_rounds, b_rounds


# ================================================================================================
# Profiling the app (--profile)
# ================================================================================================


class Profiler:
    """Around each profiled round of a: py-spy on every app worker, and a sampler of what our
    PostgreSQL backends are doing (pg_stat_activity)."""

    def __init__(self, py_spy: str | None, app: ServerProcess, directory: Path, url: str) -> None:
        self.py_spy, self.app, self.directory, self.url = py_spy, app, directory, url
        self.outputs: list[Path] = []
        self.waits: dict[str, int] = {}
        self._spies: list[subprocess.Popen[bytes]] = []
        self._sampling = threading.Event()
        self._sampler: threading.Thread | None = None

    def start(self) -> None:
        if self.py_spy is not None:
            for pid in self.app.pids:
                output = self.directory / f"py-spy-{len(self.outputs)}.txt"
                command = [self.py_spy, "record", "--pid", str(pid), "--rate", str(PY_SPY_RATE)]
                # --gil: only the thread holding the GIL is sampled. Threads waiting for the GIL,
                # for a pooled connection or for PostgreSQL all look "active" to py-spy otherwise.
                command += ["--gil", "--format", "raw", "--output", str(output)]
                self._spies.append(
                    subprocess.Popen(  # noqa: S603 - py-spy, with our own arguments
                        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                    )
                )
                self.outputs.append(output)
            time.sleep(0.5)  # attached before anything is in flight
        self._sampling.set()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def stop(self) -> None:
        self._sampling.clear()
        if self._sampler is not None:
            self._sampler.join()
        for spy in self._spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its output and exits
            try:
                spy.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(timeout=STOP_TIMEOUT)
        self._spies.clear()

    def _sample(self) -> None:
        """Every ~10 ms: state and wait event of each of the app's backends."""
        dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
        query = (
            "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity "
            "WHERE application_name = %s"
        )
        with psycopg.connect(dsn, autocommit=True) as db:
            while self._sampling.is_set():
                for state, wait_type, wait, statement in db.execute(query, (APP_NAME,)):
                    name = _backend_activity(state, wait_type, wait)
                    if wait_type == "Lock":  # which statement waits: which rows are contended
                        name += f": {' '.join(str(statement).split())}"
                    self.waits[name] = self.waits.get(name, 0) + 1
                time.sleep(0.01)


def _backend_activity(state: str | None, wait_type: str | None, wait: str | None) -> str:
    if state == "idle":
        return "idle in the pool (no transaction)"
    if state == "idle in transaction":
        return "in a transaction, waiting for the app's next statement"
    if wait_type is None:
        return "running a statement (CPU)"
    if wait_type == "Lock":
        return f"waiting for a lock ({wait})"
    if wait_type in ("IO", "LWLock") and wait and "WAL" in wait:
        return f"commit: WAL flush ({wait_type}/{wait})"
    return f"waiting: {wait_type}/{wait}"


# A sampled stack goes to the first bucket whose pattern it matches (frames joined root first).
_BUCKETS: Final = (
    ("verify the notification (parse_notification)", r"parse_notification"),
    ("sign the reply (build_notification_reply)", r"build_notification_reply"),
    ("DB: connection pool (checkout, pre-ping, return)", r"pool/|_ConnectionFairy|pre_ping"),
    ("DB: psycopg (send, read rows, adapt)", r"psycopg/"),
    ("DB: SQLAlchemy cache keys of statements built per call", r"cache_key\.py"),
    ("DB: SQLAlchemy building statements (.values(), .where())", r"sql/(dml|coercions|selectable)"),
    ("DB: SQLAlchemy execute and results", r"sqlalchemy/"),
    ("handler: domain, repositories, the rest", r"fintrust/"),
    ("threadpool hop (anyio worker threads)", r"anyio/|threading\.py|concurrent/"),
    ("HTTP: uvicorn, h11, Starlette, FastAPI", r"uvicorn/|h11/|starlette/|fastapi/"),
    ("event loop (asyncio) and the rest", r""),
)


def py_spy_tables(
    console: Console, stacks: Mapping[str, int], results: Sequence[RoundResult], top: int = 20
) -> None:
    """Where the app's workers spend their Python time. py-spy ``--gil`` samples only the thread
    holding the GIL (threads waiting for it, for a pooled connection or for PostgreSQL would all
    look busy otherwise). Shares are of those samples; ms are shares of the app's measured CPU per
    notification. On a saturated machine the event loop is sometimes descheduled while it holds
    the GIL, which inflates the HTTP share: read it with the cost breakdown that follows."""
    total = sum(stacks.values())
    if not total:
        console.print("py-spy recorded no samples", style="red")
        return
    notes = sum(r.notifications for r in results)
    cpu_ms = sum(r.cpu["app"] for r in results) / notes * 1000
    buckets, leaves = _common.tally_stacks(stacks, _BUCKETS, _frame_name)
    table = Table(
        title=f"py-spy --gil, app workers, {notes:,} notifications, {total:,} samples; the app "
        f"used {cpu_ms:.2f} ms CPU per notification",
        title_justify="left",
    )
    for column in ("where the app's Python time goes", "share", "≈ ms CPU/notification"):
        table.add_column(column, justify="left" if column.startswith("where") else "right")
    for name, count in sorted(buckets.items(), key=lambda item: -item[1]):
        table.add_row(name, f"{count / total:.1%}", f"{count / total * cpu_ms:.3f}")
    console.print(table)
    _common.leaf_table(console, leaves, total, cpu_ms, unit="≈ ms CPU/notification", top=top)


def _frame_name(frame: str) -> str:
    function, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    parts = Path(path).parts
    for anchor in ("fintrust", "site-packages", "python3.11"):
        if anchor in parts:
            parts = parts[parts.index(anchor) + 1 :]
            break
    return f"{function} ({'/'.join(parts[-3:])}:{line})"


def wait_table(console: Console, waits: Mapping[str, int]) -> None:
    total = sum(waits.values())
    if not total:
        return
    table = Table(
        title="what the app's PostgreSQL backends were doing (pg_stat_activity every ~10 ms)",
        title_justify="left",
    )
    table.add_column("backend state")
    table.add_column("share of backend samples", justify="right")
    for name, count in sorted(waits.items(), key=lambda item: -item[1]):
        table.add_row(name, f"{count / total:.1%}")
    console.print(table)


Exchanges = dict[str, dict[str, int]]
Times = dict[str, list[tuple[float, float]]]


def _handle_alone(ctx: Context) -> tuple[Exchanges, Times, list[float], list[Shot]]:
    """``handle_notification`` on fresh orders, one at a time, every exchange counted."""
    from fintrust.services.notifications import handle_notification  # noqa: PLC0415

    url = ctx.engine.url.render_as_string(hide_password=False)
    engine = app_engine(url, _schema_of(ctx.engine), "bench-notifications-count")
    pre_ping = bool(getattr(engine.pool, "_pre_ping", False))
    counts: dict[str, dict[str, int]] = {}
    current: dict[str, int] = {}

    def bump(name: str) -> None:
        current[name] = current.get(name, 0) + 1

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*args: Any) -> None:
        bump(str(args[2]).lstrip().split(None, 1)[0].upper())

    @event.listens_for(engine, "begin")
    def _begin(*_: Any) -> None:
        bump("BEGIN")

    @event.listens_for(engine, "commit")
    def _commit(*_: Any) -> None:
        bump("COMMIT")

    @event.listens_for(engine.pool, "checkout")
    def _checkout(*_: Any) -> None:
        if pre_ping:
            bump("pre-ping")

    first = ctx.next_order
    ctx.next_order += COUNT_ORDERS
    seed_orders(ctx.engine, first, COUNT_ORDERS)
    shots = build_shots(ctx.keys, first, COUNT_ORDERS, COUNT_ORDERS)
    verifier = Verifier.from_pem((ctx.keys.directory / "trustly_public.pem").read_bytes())
    signer = Signer.from_pem((ctx.keys.directory / "merchant_private.pem").read_bytes())
    times: dict[str, list[tuple[float, float]]] = {}
    for shot in shots:
        body = shot.request.partition(b"\r\n\r\n")[2]
        current = {}
        cpu, wall = time.process_time(), time.perf_counter()
        answer = handle_notification(
            partial(SqlUnitOfWork, engine), body, verifier=verifier, signer=signer
        )
        times.setdefault(shot.method, []).append(
            (time.process_time() - cpu, time.perf_counter() - wall)
        )
        if answer.status_code != 200:
            raise BenchError(f"counting: {shot.method} answered {answer.status_code}")
        per_method = counts.setdefault(shot.method, {})
        for name, n in current.items():
            per_method[name] = per_method.get(name, 0) + n
    check_ledger(ctx.engine, range(0, ctx.next_order))
    with engine.connect() as db:
        trips = []
        for _ in range(300):
            started = time.perf_counter()
            db.exec_driver_sql("SELECT 1").scalar()
            trips.append(time.perf_counter() - started)
    engine.dispose()
    return counts, times, trips, shots


def cost_breakdown(ctx: Context, console: Console) -> None:
    """What one notification costs, measured alone in this process (no concurrency, no HTTP):
    ``handle_notification`` on fresh orders with every database exchange counted (statements by
    verb; BEGIN, which psycopg sends before a transaction's first statement; COMMIT; the pool's
    pre-ping), its CPU and wall time; then the parts around it: verifying, signing, and FastAPI's
    route plus the thread-pool hop with a stub in place of ``handle_notification``."""
    counts, times, trips, shots = _handle_alone(ctx)
    verifier = Verifier.from_pem((ctx.keys.directory / "trustly_public.pem").read_bytes())
    signer = Signer.from_pem((ctx.keys.directory / "merchant_private.pem").read_bytes())
    names = sorted({name for per_method in counts.values() for name in per_method})
    table = Table(
        title=f"handle_notification alone, in this process ({COUNT_ORDERS} orders, one "
        "notification at a time): database exchanges (each one round trip) and cost",
        title_justify="left",
        caption=f"a bare round trip (SELECT 1, idle loopback connection): median "
        f"{statistics.median(trips) * 1e6:.0f} µs",
        caption_justify="left",
    )
    table.add_column("method")
    for name in [*names, "round trips", "CPU ms", "wall ms"]:
        table.add_column(name, justify="right")
    for method in METHODS:
        per_method = counts.get(method, {})
        row = [f"{per_method.get(name, 0) / COUNT_ORDERS:.1f}" for name in names]
        spent = times.get(method, [(0.0, 0.0)])
        table.add_row(
            method,
            *row,
            f"{sum(per_method.values()) / COUNT_ORDERS:.1f}",
            f"{statistics.median(c for c, _ in spent) * 1000:.2f}",
            f"{statistics.median(w for _, w in spent) * 1000:.2f}",
        )
    console.print(table)
    parts = Table(title="the parts around it, CPU µs each (this process)", title_justify="left")
    parts.add_column("part")
    parts.add_column("µs", justify="right")
    body = shots[0].request.partition(b"\r\n\r\n")[2]
    note = parse_notification(body, verifier)
    parts.add_row(
        "verify: parse_notification", f"{_cpu_us(lambda: parse_notification(body, verifier)):.0f}"
    )
    parts.add_row(
        "sign the reply: build_notification_reply",
        f"{_cpu_us(lambda: build_notification_reply(note.method, note.uuid, signer, 'OK')):.0f}",
    )
    parts.add_row(
        "ASGI path + request body + batch and signing thread hops + response (stubs)",
        f"{asyncio.run(_framework_us(ctx)):.0f}",
    )
    console.print(parts)


def _cpu_us(operation: Callable[[], object], repeat: int = 300) -> float:
    for _ in range(20):
        operation()
    started = time.process_time()
    for _ in range(repeat):
        operation()
    return (time.process_time() - started) / repeat * 1e6


async def _framework_us(ctx: Context, repeat: int = 2000) -> float:
    """The app's own ASGI path around the handler (the middleware in front of FastAPI, reading the
    body, the batch thread's hop, the signing thread's hop, the response), with stubs answering at
    once: no server, no network, no database."""
    from unittest import mock  # noqa: PLC0415

    import fintrust.web.notifications as endpoint  # noqa: PLC0415
    from fintrust.services.notifications import (  # noqa: PLC0415
        Decision,
        NotificationAnswer,
        Received,
    )

    reply = NotificationAnswer(200, b'{"result": {}}', "stub")
    url = ctx.engine.url.render_as_string(hide_password=False)
    app = build_server_app("app", ctx.keys.directory, url, _schema_of(ctx.engine))
    body = b"{" + b" " * 900 + b"}"
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": NOTIFY_PATH,
        "raw_path": NOTIFY_PATH.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"902")],
        "client": (HOST, 1),
        "server": (HOST, 2),
    }

    async def call() -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> Message:
            if messages:
                return messages.pop()
            await asyncio.sleep(3600)  # a client that stays connected
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            pass

        await app(dict(scope), receive, send)

    received = Received("", None, (400, "stub"))
    stubs = {
        "receive_notification": lambda *_, **__: received,
        "decide_batch": lambda _, batch: [Decision(400, None, "stub")] * len(batch),
        "answer": lambda *_: reply,
    }
    with contextlib.ExitStack() as patches:
        for name, stub in stubs.items():
            patches.enter_context(mock.patch.object(endpoint, name, new=stub))
        for _ in range(100):
            await call()
        started = time.process_time()
        for _ in range(repeat):
            await call()
        return (time.process_time() - started) / repeat * 1e6


def _schema_of(engine: Engine) -> str:
    with engine.connect() as db:
        return str(db.exec_driver_sql("SELECT current_schema()").scalar_one())


# ================================================================================================
# Reporting
# ================================================================================================


def machine(engine: Engine) -> dict[str, str]:
    with engine.connect() as db:
        server = db.exec_driver_sql("SHOW server_version").scalar_one()
        commit = db.exec_driver_sql("SHOW synchronous_commit").scalar_one()
    return _common.machine(
        {
            "PostgreSQL": f"{server} on 127.0.0.1 (synchronous_commit={commit})",
            "SQLAlchemy / psycopg": f"{sqlalchemy.__version__} / {psycopg.__version__}",
            "uvicorn / starlette": f"{uvicorn.__version__} / {starlette.__version__} "
            f"(h11 {metadata.version('h11')}, asyncio loop)",
            "cryptography": cryptography.__version__,
        }
    )


@dataclass
class Verdicts:
    ratio: float
    rate: float
    p99_ms: float
    ledger_ok: bool

    def goals(self) -> list[tuple[str, str, bool]]:
        return [
            (f"a / b >= {GOALS['ratio']}", f"{self.ratio:.3f}", self.ratio >= GOALS["ratio"]),
            (
                f"a >= {GOALS['rate']:,.0f} notifications/s",
                f"{self.rate:,.0f}",
                self.rate >= GOALS["rate"],
            ),
            (
                f"a p99 < {GOALS['p99_ms']:g} ms",
                f"{self.p99_ms:.1f} ms",
                self.p99_ms < GOALS["p99_ms"],
            ),
            (
                "nothing lost or doubled",
                "ledger exact" if self.ledger_ok else "mismatch",
                self.ledger_ok,
            ),
        ]

    @property
    def passed(self) -> bool:
        return all(ok for _, _, ok in self.goals())


def report(
    console: Console,
    a_rounds: list[RoundResult],
    b_rounds: list[RoundResult],
    *,
    concurrency: int,
    workers: int,
    quiet: float,
) -> Verdicts:
    rounds, notes = len(a_rounds), a_rounds[0].notifications
    throughput = Table(
        title=f"Notifications: median of {rounds} interleaved rounds of {notes:,}, "
        f"{concurrency} in flight, {workers} uvicorn worker(s) per server",
        title_justify="left",
    )
    throughput.add_column("measurement")
    for column in ("notifs/s", "min", "max", "p50 ms", "p99 ms", "max ms"):
        throughput.add_column(column, justify="right")
    for name, results in ((A_NAME, a_rounds), (B_NAME, b_rounds)):
        rates = [r.rate for r in results]
        latencies = [x * 1000 for r in results for x in r.latencies]
        throughput.add_row(
            name,
            f"{statistics.median(rates):,.0f}",
            f"{min(rates):,.0f}",
            f"{max(rates):,.0f}",
            f"{percentile(latencies, 0.50):.1f}",
            f"{percentile(latencies, 0.99):.1f}",
            f"{max(latencies):.1f}",
        )
    console.print(throughput)

    processes = ("bench", "app", "floor", "postgres")
    cpu = Table(
        title="CPU per notification, by process, µs (median of rounds); cores busy meanwhile",
        title_justify="left",
        caption="postgres = the app's backends and PostgreSQL's own processes (WAL writer, "
        "checkpointer...); cores = CPU seconds per second of the round (2 cores here); others = "
        "processes not ours; PG procs = the app's connections seen in a round plus PostgreSQL's "
        "own (~5): more than the pool keeps means connections were closed and opened; "
        "notifs/txn = notifications per transaction in each app worker (group commit)",
        caption_justify="left",
    )
    cpu.add_column("side")
    columns = (*processes, "total", "cores", "others", "PG procs", "per app worker", "notifs/txn")
    for column in columns:
        cpu.add_column(column, justify="right")
    for short, results in (("a app", a_rounds), ("b floor", b_rounds)):
        per = {
            p: statistics.median(r.cpu[p] / r.notifications * 1e6 for r in results)
            for p in processes
        }
        busy = statistics.median(sum(r.cpu[p] for p in processes) / r.seconds for r in results)
        app_workers = sorted(k for k in results[0].cpu if k.startswith("app worker"))
        cpu.add_row(
            short,
            *(f"{per[p]:,.0f}" for p in processes),
            f"{sum(per.values()):,.0f}",
            f"{busy:.2f}",
            f"{statistics.median(r.others for r in results):.2f}",
            f"{statistics.median(r.backends for r in results):.0f}" if short == "a app" else "",
            "+".join(
                f"{statistics.median(r.cpu[w] / r.seconds for r in results):.2f}"
                for w in app_workers
            )
            if short == "a app"
            else "",
            "+".join(
                f"{statistics.median(r.per_transaction[w] for r in results):.1f}"
                for w in range(len(results[0].per_transaction))
            ),
        )
    console.print(cpu)
    disturbed = sum(
        max(a.others, b.others) > quiet for a, b in zip(a_rounds, b_rounds, strict=True)
    )
    if disturbed:
        console.print(
            f"{disturbed} of {rounds} rounds shared the machine with other processes using more "
            f"than {quiet:g} cores even after {REPEATS} repeats: read the figures with care",
            style="yellow",
        )

    ratios = [a.rate / b.rate for a, b in zip(a_rounds, b_rounds, strict=True)]
    a_latencies = [x * 1000 for r in a_rounds for x in r.latencies]
    verdicts = Verdicts(
        ratio=statistics.median(ratios),
        rate=statistics.median(r.rate for r in a_rounds),
        p99_ms=percentile(a_latencies, 0.99),
        ledger_ok=True,  # every round was checked; a mismatch stops the run before this
    )
    goals = Table(
        title=f"Goals (issue 4); a / b per round: {min(ratios):.3f} to {max(ratios):.3f}",
        title_justify="left",
    )
    for column in ("goal", "measured", "verdict"):
        goals.add_column(column)
    for goal, measured, ok in verdicts.goals():
        goals.add_row(goal, measured, "[green]PASS[/]" if ok else "[red]FAIL[/]")
    console.print(goals)
    return verdicts


# ================================================================================================
# Main
# ================================================================================================


@contextlib.contextmanager
def bench_schema(url: str) -> Iterator[Engine]:
    """A private, migrated schema; dropped at the end, whatever happens."""
    schema = f"bench_{secrets.token_hex(6)}"
    admin = make_engine(url)
    with admin.begin() as db:
        db.execute(text(f"CREATE SCHEMA {schema}"))
    engine = app_engine(url, schema, "bench-notifications-check")
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as db:
            db.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="4 rounds of 600 notifications")
    parser.add_argument(
        "--rounds",
        type=int,
        help="interleaved rounds (default 6, quick 4); even: each side goes first as often",
    )
    parser.add_argument(
        "--notifications",
        type=int,
        help="notifications per round, a multiple of 3 (default 3000, quick 600)",
    )
    parser.add_argument("--concurrency", type=int, default=32, help="in flight (default 32)")
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="ORDERS",
        help="orders already in the database when the run starts, as in a deployment that has "
        "been running (cancelled deposits, their customers, wallets and inbox rows; default 0: "
        "an empty database)",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="uvicorn worker processes per server (default 2)"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("FINTRUST_TEST_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL (default: $FINTRUST_TEST_DATABASE_URL, else %(default)s); the bench "
        "works in a schema of its own and drops it at the end",
    )
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.25,
        metavar="CORES",
        help=f"measure a round again (up to {REPEATS} times) when processes not ours used more "
        "than this many cores meanwhile (default 0.25)",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"then profile {PROFILE_ROUNDS} rounds of a (py-spy when found, pg_stat_activity "
        "samples) and count the database round trips per notification",
    )
    parser.add_argument("--py-spy", metavar="PATH", help="the py-spy executable (default: PATH)")
    parser.add_argument("--role", choices=("app", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--keys", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--schema", help=argparse.SUPPRESS)
    return parser


async def bench(
    ctx: Context, rounds: int, quiet: float, console: Console, profiler: Profiler | None
) -> tuple[list[RoundResult], list[RoundResult], list[RoundResult]]:
    await connect(ctx)
    try:
        a_rounds, b_rounds = await measure(ctx, rounds, quiet, console)
        profiled: list[RoundResult] = []
        if profiler is not None:
            console.print(f"profiling {PROFILE_ROUNDS} rounds of a...", style="dim")
            ctx.profiler = profiler
            profiled = [await run_round(ctx, "a", ctx.per_round) for _ in range(PROFILE_ROUNDS)]
            ctx.profiler = None
        return a_rounds, b_rounds, profiled
    finally:
        for pool in ctx.connections.values():
            for connection in pool:
                connection.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.role:  # a server subprocess
        if args.keys is None or args.schema is None:
            parser.error("--role needs --keys and --schema")
        serve(args.role, args.keys, args.workers, args.database_url, args.schema)
        return 0
    rounds = args.rounds or (4 if args.quick else 6)
    notifications = args.notifications or (600 if args.quick else 3000)
    if rounds < 1 or notifications < 3 or args.concurrency < 1 or args.workers < 1:
        parser.error("--rounds, --notifications, --concurrency and --workers must be positive")
    per_round = notifications // 3
    py_spy = args.py_spy or shutil.which("py-spy")

    console = Console(width=None if sys.stdout.isatty() else 130)
    with (
        tempfile.TemporaryDirectory(prefix="bench-notifications-") as tmp,
        bench_schema(args.database_url) as engine,
    ):
        info = Table(
            title="bench/notifications.py: the merchant app vs a bare endpoint",
            title_justify="left",
        )
        info.add_column("machine")
        info.add_column("")
        for key, value in machine(engine).items():
            info.add_row(key, value)
        info.add_row(
            "processes",
            f"app and floor: one uvicorn server each, {args.workers} worker process(es); "
            "load: this one",
        )
        console.print(info)
        directory = Path(tmp)
        keys = make_keys(directory)
        url = args.database_url
        if args.history:
            console.print(f"history: {args.history:,} orders...", style="dim")
            seed_history(engine, args.history)
        setup = ServerSetup(directory, args.workers, url, _schema_of(engine))
        with running("app", setup) as app, running("floor", setup) as floor:
            ctx = Context(keys, engine, app, floor, args.concurrency, per_round)
            ctx.backend_cpu = BackendCpu(url)
            profiler = Profiler(py_spy, app, directory, url) if args.profile else None
            a_rounds, b_rounds, profiled = asyncio.run(
                bench(ctx, rounds, args.quiet, console, profiler)
            )
            verdicts = report(
                console,
                a_rounds,
                b_rounds,
                concurrency=args.concurrency,
                workers=args.workers,
                quiet=args.quiet,
            )
            if profiler is not None:
                if profiler.py_spy is None:
                    console.print(
                        "py-spy not found (pip install py-spy): no stacks", style="yellow"
                    )
                py_spy_tables(console, read_stacks(profiler.outputs), profiled)
                wait_table(console, profiler.waits)
                cost_breakdown(ctx, console)
    if args.check and not verdicts.passed:
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except BenchError as exc:  # a reply or the ledger did not check out, or a server failed
        print(f"FAIL: {exc}", file=sys.stderr)
        sys.exit(1)
