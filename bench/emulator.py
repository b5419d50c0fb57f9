"""How many complete deposit orders per second does the emulator run, against a floor?

A benchmark, never run as a test.

Run it with ``.venv/bin/python bench/emulator.py``; ``--quick`` for a short run; ``--profile`` to
then profile a fresh emulator over 3 rounds of a (with py-spy when it is installed, which also sees
native code and system calls, else cProfile) and see where its time goes; ``--keep-state`` to let
the emulator's store grow across rounds instead of resetting it.

What is measured, in one run on one machine, each side a fixed number of orders per round with the
same number of orders in flight (asyncio tasks in the bench process):

* **a, the emulator**: one order is ``AsyncTrustlyClient.execute(DepositRequest(...))`` over HTTP to
  the real emulator (``create_app``, system clock, background delivery on), then a headless checkout
  with ``POST /_emulator/orders/{id}/complete {"deliver": true}`` (default scenario deposit-ok). The
  merchant has the optional ``account`` notification on, so the emulator signs and delivers three
  notifications (pending, account, credit) and checks the three signed replies before it answers.
  The order counts as complete when that answer says all three were delivered with a valid reply,
  i.e. when the receiver has verified and answered every notification of it.
* **b, the floor**: no emulator. A bare loop signs the same three notifications per "order" with
  ``build_notification`` and the emulator's key, POSTs them in order with httpx to the same
  receiver and reads each signed reply with ``read_notification_reply``: the least work any
  Trustly (emulated or not) must do to deliver a deposit's notifications.

The receiver, the same in a and b, is a tiny ASGI app (no framework) on uvicorn that verifies each
notification with ``parse_notification`` and answers ``build_notification_reply(..., "OK")``.

Processes: the emulator and the receiver each run in a subprocess (uvicorn, 127.0.0.1, a free
port, access log off); the load comes from this process. On a 2-core machine that is the fairest
layout: the emulator, the merchant and the load generator do not share one interpreter lock, and
the emulator is idle during b. Every process's CPU time per order is reported, so it is visible
which one is the bottleneck. The servers are stopped on exit, also on Ctrl-C; and they stop by
themselves when this process dies (they watch their stdin).

Correctness is checked first (warm-up rounds) and after every round, outside the timing: the
emulator's snapshot must show every order credited, its three notifications delivered once with
verdict ok, and the merchant's EUR balance equal to the sum of the deposits; the receiver must have
verified exactly 3 notifications per order and rejected none. The emulator is reset before every
round of a (``POST /_emulator/reset``), so every round starts from the same, empty state.

Rounds alternate a and b (the order flipped every other round). The machine is measured too: a
round during which other processes used more than ``--quiet`` cores (default 0.25) is measured
again, up to 3 times, and the CPU time of every process of ours is reported per order. The report
gives medians over the rounds, p50 / p99 order latency over all rounds' orders, and a / b as the
median of the per-round ratios. There is no goal for a / b: the figures are printed as they are.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import json
import os
import pstats
import re
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
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any, Final, Literal

import cryptography
import httpx
import pydantic
import starlette
import uvicorn
from rich.console import Console
from rich.table import Table
from starlette.types import Receive, Scope, Send

import _common
from _common import machine_busy_seconds, percentile, process_cpu, read_stacks, respond
from fintrust.trustly import (
    AsyncTrustlyClient,
    DepositAttributes,
    DepositRequest,
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

USERNAME: Final = "bench_shop"
PASSWORD: Final = "bench shop password"  # noqa: S105 - a benchmark's fake credential
NOTIFY_PATH: Final = "/trustly/notifications"
METHODS: Final = ("pending", "account", "credit")  # deposit-ok with ``account`` turned on
HOST: Final = "127.0.0.1"
CUSTOMERS: Final = 64  # end users cycle: a shop's returning customers
START_TIMEOUT: Final = 30.0  # seconds for a server to come up
STOP_TIMEOUT: Final = 10.0  # seconds for a server to stop before it is killed
PROFILE_ROUNDS: Final = 3  # --profile: rounds of a run by the profiled emulator
REPEATS: Final = 3  # times a round disturbed by other processes is measured again
PY_SPY_RATE: Final = 200  # samples per second (py-spy pauses the process for each one)
PY_SPY_ATTACH: Final = 0.5  # seconds for py-spy to attach before a round starts
_HEADERS: Final = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "bench-floor"}

A_NAME: Final = "a  emulator: Deposit + complete, 3 notifications"
B_NAME: Final = "b  floor: sign + POST 3 notifications"
Kind = Literal["a", "b"]

_FIRST: Final = ("Åsa", "Jürgen", "Søren", "Päivi", "Øyvind", "Zoë")
_LAST: Final = ("Ångström", "Müller", "Kierkegård", "Häkkinen", "Ødegård", "Łukasiewicz")
_WHERE: Final = (("SE", "sv_SE"), ("DE", "de_DE"), ("DK", "da_DK"), ("FI", "fi_FI"))


class BenchError(Exception):
    """Something was wrong: a server failed, or an order did not complete correctly."""


# ================================================================================================
# The servers (run as ``bench/emulator.py --role emulator|receiver --keys DIR``)
# ================================================================================================


class Receiver:
    """The minimal merchant: verify each notification, answer it signed. Raw ASGI, no framework.

    ``GET /stats`` tells how many notifications it verified (by method) and rejected."""

    def __init__(self, emulator_verifier: Verifier, merchant_signer: Signer) -> None:
        self.verifier = emulator_verifier
        self.signer = merchant_signer
        self.verified: dict[str, int] = dict.fromkeys(METHODS, 0)
        self.rejected = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "POST" and scope["path"] == NOTIFY_PATH:
            body = await _read_body(receive)
            try:
                note = parse_notification(body, self.verifier)
            except (InvalidNotificationError, InvalidSignatureError) as exc:
                self.rejected += 1
                await respond(send, 400, str(exc).encode(), b"text/plain")
                return
            self.verified[note.method] = self.verified.get(note.method, 0) + 1
            reply = build_notification_reply(note.method, note.uuid, self.signer, "OK")
            await respond(send, 200, reply, b"application/json")
        elif scope["method"] == "GET" and scope["path"] == "/stats":
            stats = {"verified": self.verified, "rejected": self.rejected}
            await respond(send, 200, json.dumps(stats).encode(), b"application/json")
        else:
            await respond(send, 404, b"not found", b"text/plain")


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _emulator_app(keys: Path, base_url: str) -> Any:
    # Imported here: the bench process itself never loads the emulator.
    from trustly_emulator import (  # noqa: PLC0415
        Emulator,
        EmulatorConfig,
        EmulatorKeys,
        MerchantConfig,
        create_app,
    )

    merchant = MerchantConfig(
        username=USERNAME,
        password=PASSWORD,
        public_key_pem=(keys / "merchant_public.pem").read_text(encoding="ascii"),
        notifications=frozenset({"account"}),
        balances={"EUR": "0"},
    )
    emulator_keys = EmulatorKeys(
        Signer.from_pem((keys / "emulator_private.pem").read_bytes()),
        (keys / "emulator_public.pem").read_text(encoding="ascii"),
    )
    emulator = Emulator(
        EmulatorConfig(base_url=base_url, merchants=(merchant,)), keys=emulator_keys
    )
    return create_app(emulator)  # SystemClock: background delivery on


def serve(role: str, keys: Path, profile_out: Path | None) -> None:
    """Bind a free port on 127.0.0.1, print it, serve until SIGTERM/SIGINT or stdin closes."""
    # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted sockets inherit it. With proto 0, Nagle plus delayed ACKs add ~40 ms to
    # every exchange whose request or response is written in more than one piece.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    app: Any
    if role == "emulator":
        app = _emulator_app(keys, f"http://{HOST}:{port}")
    else:
        app = Receiver(
            Verifier.from_pem((keys / "emulator_public.pem").read_bytes()),
            Signer.from_pem((keys / "merchant_private.pem").read_bytes()),
        )
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="on" if role == "emulator" else "off",
        # Idle connections stay open between rounds (uvicorn's default closes them after 5 s,
        # which can race with a client reusing one).
        timeout_keep_alive=120,
    )
    server = uvicorn.Server(config)

    def watch_parent() -> None:  # stdin closes when the bench process exits, however it exits
        while os.read(0, 4096):  # unbuffered: no lock left held at interpreter shutdown
            pass
        server.should_exit = True

    threading.Thread(target=watch_parent, daemon=True).start()
    print(f"PORT {port}", flush=True)
    # uvicorn re-raises SIGTERM once it has shut down; exit cleanly then (a profile is written).
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Profiling covers only the timed windows: the bench sends SIGUSR1 / SIGUSR2 around them.
    profiler = cProfile.Profile() if profile_out else None
    if profiler is not None:
        signal.signal(signal.SIGUSR1, lambda *_: profiler.enable())
        signal.signal(signal.SIGUSR2, lambda *_: profiler.disable())
    try:
        server.run(sockets=[sock])
    finally:
        if profiler is not None and profile_out is not None:
            profiler.disable()
            profiler.dump_stats(profile_out)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(0)


@dataclass
class ServerProcess:
    role: str
    process: subprocess.Popen[bytes]
    url: str

    def cpu_seconds(self) -> float:
        """User + system CPU time of the process so far (Linux /proc; 0.0 elsewhere)."""
        return process_cpu(self.process.pid)

    def stop(self) -> None:
        _common.stop(self.process, STOP_TIMEOUT)


def start_server(role: str, keys: Path, profile_out: Path | None = None) -> ServerProcess:
    command = [sys.executable, str(Path(__file__).resolve()), "--role", role, "--keys", str(keys)]
    if profile_out is not None:
        command += ["--profile-out", str(profile_out)]
    process, line = _common.launch(command, START_TIMEOUT)
    if not line.startswith("PORT "):
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)
        raise BenchError(f"the {role} did not start (said {line!r})")
    server = ServerProcess(role, process, f"http://{HOST}:{int(line.split()[1])}")
    probe = "/_emulator/config" if role == "emulator" else "/stats"
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(server.url + probe, timeout=2).status_code == 200:
                return server
        time.sleep(0.05)
    server.stop()
    raise BenchError(f"the {role} did not answer within {START_TIMEOUT:g} s")


@contextlib.contextmanager
def running(role: str, keys: Path, profile_out: Path | None = None) -> Iterator[ServerProcess]:
    server = start_server(role, keys, profile_out)
    try:
        yield server
    finally:
        server.stop()


class EmulatorProfiler:
    """Profiles the emulator process during the timed part of each round of a."""

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError


class CProfileSwitch(EmulatorProfiler):
    """cProfile inside the emulator (``--profile-out``), switched by SIGUSR1 / SIGUSR2."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server

    def start(self) -> None:
        self.server.process.send_signal(signal.SIGUSR1)

    def stop(self) -> None:
        self.server.process.send_signal(signal.SIGUSR2)


class PySpy(EmulatorProfiler):
    """``py-spy record`` attached to the emulator: samples its stacks (native code and system
    calls included) without slowing every Python call down the way cProfile does."""

    def __init__(self, executable: str, server: ServerProcess, directory: Path) -> None:
        self.executable, self.server, self.directory = executable, server, directory
        self.outputs: list[Path] = []
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        output = self.directory / f"py-spy-{len(self.outputs)}.txt"
        command = [self.executable, "record", "--pid", str(self.server.process.pid)]
        command += ["--rate", str(PY_SPY_RATE), "--format", "raw", "--output", str(output)]
        self._process = subprocess.Popen(  # noqa: S603 - py-spy, with our own arguments
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        self.outputs.append(output)
        time.sleep(PY_SPY_ATTACH)  # before the timed part: nothing is in flight yet
        if self._process.poll() is not None:
            error = self._process.stderr.read().decode() if self._process.stderr else ""
            raise BenchError(f"py-spy could not attach (ptrace allowed?): {error.strip()}")

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGINT)  # py-spy writes its output and exits
        try:
            self._process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=STOP_TIMEOUT)
        if self._process.stderr is not None:
            self._process.stderr.close()
        self._process = None


# ================================================================================================
# The load (this process)
# ================================================================================================


@dataclass(frozen=True)
class Keys:
    directory: Path
    emulator_signer: Signer
    emulator_verifier: Verifier
    merchant_signer: Signer
    merchant_verifier: Verifier


def make_keys(directory: Path) -> Keys:
    """The emulator's and the merchant's key pairs, written for the servers to read."""
    pems: dict[str, bytes] = {}
    for who in ("emulator", "merchant"):
        private_pem, public_pem = generate_key_pair()
        (directory / f"{who}_private.pem").write_bytes(private_pem)
        (directory / f"{who}_public.pem").write_bytes(public_pem)
        pems[who], pems[f"{who}_public"] = private_pem, public_pem
    return Keys(
        directory=directory,
        emulator_signer=Signer.from_pem(pems["emulator"]),
        emulator_verifier=Verifier.from_pem(pems["emulator_public"]),
        merchant_signer=Signer.from_pem(pems["merchant"]),
        merchant_verifier=Verifier.from_pem(pems["merchant_public"]),
    )


def amount_of(n: int) -> Decimal:
    return Decimal(f"{10 + n * 37 % 990}.{n * 13 % 100:02d}")


def deposit_request(run_id: str, n: int, notification_url: str) -> DepositRequest:
    """A realistic Deposit: EUR, non-ASCII names, the usual attributes."""
    country, locale = _WHERE[n % len(_WHERE)]
    return DepositRequest(
        notification_url=notification_url,
        end_user_id=f"customer-{n % CUSTOMERS}",
        message_id=f"{run_id}-{n:07d}",
        attributes=DepositAttributes(
            currency="EUR",
            amount=amount_of(n),
            firstname=_FIRST[n % len(_FIRST)],
            lastname=_LAST[n % len(_LAST)],
            country=country,
            locale=locale,
            email=f"customer{n % CUSTOMERS}@example.com",
            ip=f"203.0.113.{n % 250 + 1}",
            success_url=f"https://shop.example.com/checkout/{n}/done",
            fail_url=f"https://shop.example.com/checkout/{n}/failed",
            shopper_statement="Bokhandeln i Malmö",
        ),
    )


def floor_notifications(run_id: str, n: int) -> list[tuple[str, dict[str, Any]]]:
    """The ``data`` of the three notifications the emulator sends for order ``n``, same shapes."""
    order_id, message_id = str(4_000_000_000 + n), f"{run_id}-{n:07d}"
    common = {"messageid": message_id, "orderid": order_id}
    stamp = "2026-03-12 15:14:18.616710+00"
    money = {
        "enduserid": f"customer-{n % CUSTOMERS}",
        "timestamp": stamp,
        "amount": f"{amount_of(n):.2f}",
        "currency": "EUR",
        "attributes": {},
    }
    return [
        ("pending", {**common, "notificationid": str(5_000_000_000 + 3 * n), **money}),
        (
            "account",
            {
                **common,
                "notificationid": str(5_000_000_001 + 3 * n),
                "accountid": str(6_000_000_000 + n % CUSTOMERS),
                "verified": "1",
                "attributes": {
                    "clearinghouse": "SWEDEN",
                    "bank": "Handelsbanken",
                    "descriptor": "**1234",
                    "lastdigits": "561234",
                },
            },
        ),
        ("credit", {**common, "notificationid": str(5_000_000_002 + 3 * n), **money}),
    ]


@dataclass
class Context:
    keys: Keys
    emulator: ServerProcess
    receiver: ServerProcess
    client: AsyncTrustlyClient  # the merchant's SDK client, pointed at the emulator
    control: httpx.AsyncClient  # the emulator's control plane
    floor: httpx.AsyncClient  # the floor's client for the receiver
    concurrency: int
    keep_state: bool = False  # True: no reset between rounds of a (the store grows)
    profiler: EmulatorProfiler | None = None  # switched on around the timed part of a rounds
    run_id: str = field(default_factory=lambda: uuid_module.uuid4().hex[:8])
    next_order: int = 0
    deposited: Decimal = Decimal(0)  # sum of the deposits since the emulator's last reset

    @property
    def notification_url(self) -> str:
        return self.receiver.url + NOTIFY_PATH


@dataclass
class RoundResult:
    kind: Kind
    orders: int
    seconds: float
    latencies: list[float]
    cpu: dict[str, float]  # process -> CPU seconds during the round

    @property
    def rate(self) -> float:
        return self.orders / self.seconds

    @property
    def others(self) -> float:
        """Cores used by processes other than ours during the round."""
        return self.cpu["others"] / self.seconds


async def order_a(ctx: Context, request: DepositRequest) -> float:
    started = time.perf_counter()
    result = await ctx.client.execute(request)
    response = await ctx.control.post(
        f"/_emulator/orders/{result.order_id}/complete", json={"deliver": True}
    )
    if response.status_code != 200:
        raise BenchError(f"complete {result.order_id}: HTTP {response.status_code} {response.text}")
    view = response.json()
    delivered = [n for n in view["notifications"] if n["state"] == "delivered"]
    if len(delivered) != len(METHODS):
        raise BenchError(f"order {result.order_id} answered with {len(delivered)} delivered")
    return time.perf_counter() - started


async def order_b(ctx: Context, notes: list[tuple[str, dict[str, Any]]]) -> float:
    started = time.perf_counter()
    signer, verifier, url = (
        ctx.keys.emulator_signer,
        ctx.keys.merchant_verifier,
        ctx.notification_url,
    )
    for method, data in notes:
        uuid = str(uuid_module.uuid4())
        body = build_notification(method, uuid, data, signer)
        response = await ctx.floor.post(url, content=body, headers=_HEADERS)
        reply = read_notification_reply(
            response.content, method=method, uuid=uuid, verifier=verifier
        )
        if reply.status != "OK":
            raise BenchError(f"floor: {method} answered {reply.status}")
    return time.perf_counter() - started


async def receiver_stats(ctx: Context) -> tuple[int, int]:
    stats = (await ctx.floor.get(ctx.receiver.url + "/stats")).json()
    return sum(stats["verified"].values()), int(stats["rejected"])


async def run_round(ctx: Context, kind: Kind, orders: int) -> RoundResult:
    """``orders`` orders, ``ctx.concurrency`` in flight; checked afterwards, outside the timing."""
    first = ctx.next_order
    ctx.next_order += orders
    numbers = range(first, first + orders)
    jobs: list[Callable[[], Awaitable[float]]]
    if kind == "a":
        if not ctx.keep_state:
            reset = await ctx.control.post("/_emulator/reset")
            reset.raise_for_status()
            ctx.deposited = Decimal(0)
        requests = [deposit_request(ctx.run_id, n, ctx.notification_url) for n in numbers]
        jobs = [lambda r=r: order_a(ctx, r) for r in requests]  # type: ignore[misc]
    else:
        notes = [floor_notifications(ctx.run_id, n) for n in numbers]
        jobs = [lambda x=x: order_b(ctx, x) for x in notes]  # type: ignore[misc]
    verified_before, rejected_before = await receiver_stats(ctx)
    latencies: list[float] = []
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:  # shared iterator: each job is taken by exactly one worker
            latencies.append(await job())

    gc.collect()
    profiler = ctx.profiler if kind == "a" else None
    if profiler is not None:
        profiler.start()
    cpu_before = _cpu(ctx)
    started = time.perf_counter()
    async with asyncio.timeout(60 + orders):  # bounded: a stuck server fails the round
        await asyncio.gather(*(worker() for _ in range(min(ctx.concurrency, orders))))
    seconds = time.perf_counter() - started
    cpu_after = _cpu(ctx)
    if profiler is not None:
        profiler.stop()

    verified, rejected = await receiver_stats(ctx)
    if (verified - verified_before, rejected - rejected_before) != (len(METHODS) * orders, 0):
        raise BenchError(
            f"round {kind}: the receiver verified {verified - verified_before} and rejected "
            f"{rejected - rejected_before} notifications for {orders} orders"
        )
    if kind == "a":
        ctx.deposited += sum((amount_of(n) for n in numbers), Decimal(0))
        await check_emulator(ctx, numbers)
    cpu = {name: cpu_after[name] - cpu_before[name] for name in cpu_before}
    # Whatever else ran on the machine meanwhile (a shared host, a test run): in CPU seconds.
    cpu["others"] = max(0.0, cpu.pop("machine") - sum(cpu.values()))
    return RoundResult(kind, orders, seconds, latencies, cpu)


def _cpu(ctx: Context) -> dict[str, float]:
    """CPU seconds so far: of each of our processes, and of the whole machine ("machine")."""
    return {
        "bench": time.process_time(),
        "emulator": ctx.emulator.cpu_seconds(),
        "receiver": ctx.receiver.cpu_seconds(),
        "machine": machine_busy_seconds(),
    }


async def check_emulator(ctx: Context, numbers: range) -> None:
    """The snapshot must show every order of the round credited, its 3 notifications delivered
    once with verdict ok, and the merchant's EUR balance equal to the sum of the deposits."""
    snapshot = (await ctx.control.get("/_emulator/snapshot")).json()
    expected = {f"{ctx.run_id}-{n:07d}" for n in numbers}
    orders = {o["order_id"]: o for o in snapshot["orders"] if o["message_id"] in expected}
    if len(orders) != len(expected):
        raise BenchError(f"snapshot: {len(orders)} of the round's {len(expected)} orders")
    methods: dict[str, list[str]] = {order_id: [] for order_id in orders}
    for note in snapshot["notifications"]:
        if note["order_id"] not in methods:
            continue  # an earlier round's (--keep-state)
        attempts = note["attempts"]
        if note["state"] != "delivered" or len(attempts) != 1 or attempts[0]["verdict"] != "ok":
            raise BenchError(f"snapshot: notification {note['notification_id']} is {note['state']}")
        methods[note["order_id"]].append(note["method"])
    for order_id, order in orders.items():
        if order["state"] != "credited" or methods[order_id] != list(METHODS):
            raise BenchError(f"snapshot: order {order_id} is {order['state']}: {methods[order_id]}")
    [merchant] = [m for m in snapshot["merchants"] if m["username"] == USERNAME]
    balance = Decimal(merchant["balances"].get("EUR", "0"))
    if balance != ctx.deposited:
        raise BenchError(f"snapshot: EUR balance {balance}, deposits sum to {ctx.deposited}")


async def measure(
    ctx: Context, rounds: int, orders: int, quiet: float, console: Console
) -> tuple[list[RoundResult], list[RoundResult], list[float]]:
    """Interleaved rounds. A round whose a or b shared the machine with more than ``quiet``
    cores of other processes' work is measured again, at most ``REPEATS`` times."""
    warm = max(10, orders // 5)
    console.print(f"warm-up and correctness check ({warm} orders each)...", style="dim")
    await run_round(ctx, "a", warm)
    await run_round(ctx, "b", warm)
    a_rounds: list[RoundResult] = []
    b_rounds: list[RoundResult] = []
    for index in range(rounds):
        for attempt in range(1, REPEATS + 2):
            pair: dict[str, RoundResult] = {}
            for kind in ("a", "b") if index % 2 == 0 else ("b", "a"):
                pair[kind] = await run_round(ctx, kind, orders)
            a, b = pair["a"], pair["b"]
            busy = max(a.others, b.others)
            console.print(
                f"  round {index + 1}/{rounds}: a {a.rate:,.1f} orders/s  b {b.rate:,.1f} "
                f"orders/s  a/b {a.rate / b.rate:.3f}   other processes: {a.others:.2f} / "
                f"{b.others:.2f} cores",
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
    ratios = [a.rate / b.rate for a, b in zip(a_rounds, b_rounds, strict=True)]
    return a_rounds, b_rounds, ratios


# ================================================================================================
# Reporting
# ================================================================================================


def machine() -> dict[str, str]:
    return _common.machine(
        {
            "uvicorn / h11": f"{uvicorn.__version__} / {metadata.version('h11')} "
            "(asyncio loop, h11)",
            "httpx / starlette": f"{httpx.__version__} / {starlette.__version__}",
            "pydantic / cryptography": f"{pydantic.VERSION} / {cryptography.__version__}",
        }
    )


def _spread(values: Sequence[float]) -> str:
    return f"{(max(values) - min(values)) / statistics.median(values) * 100:.1f}%"


def report(
    console: Console,
    *,
    a_rounds: list[RoundResult],
    b_rounds: list[RoundResult],
    ratios: list[float],
    concurrency: int,
    quiet: float,
) -> None:
    rounds, orders = len(a_rounds), a_rounds[0].orders
    throughput = Table(
        title=(
            f"Complete orders: median of {rounds} interleaved rounds of {orders} orders, "
            f"{concurrency} in flight"
        ),
        title_justify="left",
    )
    throughput.add_column("measurement")
    for column in ("orders/s", "notifs/s", "min", "max", "spread", "p50 ms", "p99 ms"):
        throughput.add_column(column, justify="right")
    for name, results in ((A_NAME, a_rounds), (B_NAME, b_rounds)):
        rates = [r.rate for r in results]
        latencies = [x * 1000 for r in results for x in r.latencies]
        median = statistics.median(rates)
        throughput.add_row(
            name,
            f"{median:,.1f}",
            f"{median * len(METHODS):,.0f}",
            f"{min(rates):,.1f}",
            f"{max(rates):,.1f}",
            _spread(rates),
            f"{percentile(latencies, 0.50):,.1f}",
            f"{percentile(latencies, 0.99):,.1f}",
        )
    console.print(throughput)

    cpu = Table(
        title="CPU time per order, by process (median of rounds; 2 cores = 2,000 ms per s)",
        title_justify="left",
        caption=(
            "busy = CPU seconds of the process / wall seconds of the round; others = cores used "
            "meanwhile by processes not ours (a shared machine)"
        ),
        caption_justify="left",
    )
    cpu.add_column("measurement")
    for column in (
        "bench ms",
        "emulator ms",
        "receiver ms",
        "total ms",
        "busy: bench/emu/recv",
        "others (cores)",
    ):
        cpu.add_column(column, justify="right")
    for name, results in ((A_NAME, a_rounds), (B_NAME, b_rounds)):
        per_order = {
            process: statistics.median(r.cpu[process] / r.orders * 1000 for r in results)
            for process in ("bench", "emulator", "receiver")
        }
        busy = "/".join(
            f"{statistics.median(r.cpu[p] / r.seconds for r in results):.0%}"
            for p in ("bench", "emulator", "receiver")
        )
        cpu.add_row(
            name,
            *(f"{per_order[p]:.2f}" for p in ("bench", "emulator", "receiver")),
            f"{sum(per_order.values()):.2f}",
            busy,
            f"{statistics.median(r.others for r in results):.2f}",
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
    a_median = statistics.median(r.rate for r in a_rounds)
    b_median = statistics.median(r.rate for r in b_rounds)
    verdict = Table(
        title="a / b: emulator over the floor (1.0 = the emulator adds nothing; no goal set)",
        title_justify="left",
        caption="median of per-round ratios (each round's a and b measured back to back)",
        caption_justify="left",
    )
    for column in ("ratio", "median", "min", "max", "of medians"):
        verdict.add_column(column, justify="left" if column == "ratio" else "right")
    verdict.add_row(
        "a / b (orders/s)",
        f"{statistics.median(ratios):.3f}",
        f"{min(ratios):.3f}",
        f"{max(ratios):.3f}",
        f"{a_median / b_median:.3f}",
    )
    console.print(verdict)


def profile_table(console: Console, path: Path, orders: int, top: int = 25) -> None:
    """The profiled emulator's top functions by own time, per order."""
    stats = pstats.Stats(str(path))
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    for title, key in (("own time", 2), ("cumulative time", 3)):
        table = Table(
            title=f"cProfile of the emulator process, {orders} orders: top {top} by {title}",
            title_justify="left",
            caption="cProfile adds ~0.1-0.3 µs per Python call: small functions look dearer",
            caption_justify="left",
        )
        for column in ("function", "calls/order", "own µs/order", "cumulative µs/order"):
            table.add_column(column, justify="left" if column == "function" else "right")
        ranked = sorted(raw.items(), key=lambda item: item[1][key], reverse=True)
        shown = 0
        for (filename, line, function), (_, calls, own, cumulative, _) in ranked:
            if key == 3 and "site-packages" in filename and "trustly" not in filename:
                continue  # cumulative: our own functions only (asyncio/uvicorn wrap everything)
            if "epoll" in function or filename.endswith(("selectors.py", "base_events.py")):
                continue  # the event loop: its wall time is mostly waiting, not work
            where = _short(filename, line)
            table.add_row(
                f"{function} ({where})",
                f"{calls / orders:.2f}",
                f"{own / orders * 1e6:,.1f}",
                f"{cumulative / orders * 1e6:,.1f}",
            )
            shown += 1
            if shown == top:
                break
        console.print(table)


# A sampled stack is put in the first bucket whose pattern it matches (frames joined root first).
_IDLE: Final = re.compile(
    r"(select|poll) \([^;]*selectors\.py|watch_parent|Condition\.wait|_wait_for_tstate_lock"
)
_BUCKETS: Final = (
    ("delivery: sign the notification (build_notification)", r"build_notification"),
    ("delivery: verify the reply (read_notification_reply)", r"read_notification_reply"),
    (
        "delivery: HTTP client (httpx POST to the merchant)",
        r"Dispatcher\.attempt.*(httpx|httpcore)",
    ),
    ("delivery: the rest (event, data, records, queue)", r"Dispatcher\.|deliver_due"),
    ("API: verify the request's signature", r"_authenticate"),
    ("API: sign the response", r"build_result|build_error"),
    ("API: decode, validate, create the order", r"handle_api"),
    ("complete: checkout and plan", r"complete_checkout"),
    ("complete: order_view (the answer's data)", r"order_view"),
    ("HTTP server: uvicorn, h11, Starlette, FastAPI", r"h11_impl|starlette/|fastapi/|h11/"),
    ("event loop (asyncio) and the rest", r""),
)
_OF_WHICH: Final = (
    ("  of which httpcore's failing `import sniffio`", r"current_async_library.*_find_and_load"),
    ("  of which socket send() (TCP on loopback)", r"httpcore.*Transport\.write[^;]*$"),
)


def py_spy_tables(
    console: Console, stacks: Mapping[str, int], results: Sequence[RoundResult], top: int = 15
) -> None:
    """Where the emulator's CPU goes: buckets and leaf functions, as shares of its busy samples
    and as ms per order (share x the emulator's CPU time per order in the profiled rounds)."""
    busy = {stack: n for stack, n in stacks.items() if not _IDLE.search(stack.rpartition(";")[2])}
    total = sum(busy.values())
    if not total:
        console.print("py-spy recorded no busy samples", style="red")
        return
    orders = sum(r.orders for r in results)
    cpu_ms = sum(r.cpu["emulator"] for r in results) / orders * 1000
    buckets, leaves = _common.tally_stacks(busy, _BUCKETS, _frame_name)
    for name, pattern in _OF_WHICH:  # parts of a bucket, counted again on their own
        buckets[name] = sum(n for stack, n in busy.items() if re.search(pattern, stack))
    title = (
        f"py-spy, emulator process, {orders} orders: {total:,} busy samples at {PY_SPY_RATE}/s; "
        f"the emulator used {cpu_ms:.2f} ms CPU per order"
    )
    table = Table(title=title, title_justify="left")
    for column in ("where the emulator's time goes", "share", "ms/order"):
        table.add_column(column, justify="left" if column.startswith("where") else "right")
    ordered = sorted(_BUCKETS, key=lambda bucket: -buckets[bucket[0]])
    for name, _ in ordered:
        table.add_row(name, f"{buckets[name] / total:.1%}", f"{buckets[name] / total * cpu_ms:.2f}")
        if name.startswith("delivery: HTTP client"):
            for sub, _ in _OF_WHICH:
                share = buckets[sub] / total
                table.add_row(sub, f"{share:.1%}", f"{share * cpu_ms:.2f}", style="dim")
    console.print(table)
    _common.leaf_table(console, leaves, total, cpu_ms, unit="ms/order", top=top)


def _frame_name(frame: str) -> str:
    """'function (/path/to/pkg/module.py:12)' -> 'function (pkg/module.py:12)'."""
    function, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    return f"{function} ({_short(path, int(line) if line.isdigit() else 0)})"


def _short(filename: str, line: int) -> str:
    if not line:
        return "built-in"
    parts = Path(filename).parts
    for anchor in ("trustly_emulator", "fintrust", "site-packages"):
        if anchor in parts:
            tail = parts[parts.index(anchor) + (1 if anchor == "site-packages" else 0) :]
            return f"{'/'.join(tail)}:{line}"
    return f"{filename if not Path(filename).is_absolute() else Path(filename).name}:{line}"


# ================================================================================================
# Main
# ================================================================================================


async def bench(
    keys: Keys,
    emulator: ServerProcess,
    receiver: ServerProcess,
    *,
    rounds: int,
    orders: int,
    concurrency: int,
    console: Console,
    quiet: float = 0.25,
    keep_state: bool = False,
    profiler: EmulatorProfiler | None = None,
) -> tuple[list[RoundResult], list[RoundResult], list[float]]:
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
    async with (
        AsyncTrustlyClient(
            username=USERNAME,
            password=PASSWORD,
            signer=keys.merchant_signer,
            verifier=keys.emulator_verifier,
            url=emulator.url + "/api/1",
            timeout=30,
            retries=0,
        ) as client,
        httpx.AsyncClient(base_url=emulator.url, timeout=30, limits=limits) as control,
        httpx.AsyncClient(timeout=30, limits=limits) as floor,
    ):
        ctx = Context(keys, emulator, receiver, client, control, floor, concurrency, keep_state)
        if profiler is not None:  # --profile: rounds of a only, their timed part profiled
            await run_round(ctx, "a", max(10, orders // 5))  # warm-up, not profiled
            ctx.profiler = profiler
            results = [await run_round(ctx, "a", orders) for _ in range(PROFILE_ROUNDS)]
            return results, [], []
        return await measure(ctx, rounds, orders, quiet, console)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 30 orders (a smoke run)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 7, quick 3)")
    parser.add_argument("--orders", type=int, help="orders per round (default 200, quick 30)")
    parser.add_argument("--concurrency", type=int, default=8, help="orders in flight (default 8)")
    parser.add_argument(
        "--quiet",
        type=float,
        default=0.25,
        metavar="CORES",
        help=f"measure a round again (up to {REPEATS} times) when other processes used more "
        "than this many cores meanwhile (default 0.25)",
    )
    parser.add_argument(
        "--keep-state",
        action="store_true",
        help="do not reset the emulator between rounds of a (its store grows run-long)",
    )
    parser.add_argument(
        "--profile",
        nargs="?",
        const="auto",
        choices=("auto", "py-spy", "cprofile"),
        help=f"then profile the emulator over {PROFILE_ROUNDS} rounds of a: with py-spy when it "
        "is installed (auto), else cProfile",
    )
    parser.add_argument("--py-spy", metavar="PATH", help="the py-spy executable (default: PATH)")
    parser.add_argument(
        "--profile-save", type=Path, metavar="FILE", help="keep the raw profile (pstats or stacks)"
    )
    parser.add_argument("--role", choices=("emulator", "receiver"), help=argparse.SUPPRESS)
    parser.add_argument("--keys", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", type=Path, help=argparse.SUPPRESS)
    return parser


def profile(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    *,
    keys: Keys,
    receiver: ServerProcess,
    orders: int,
    console: Console,
) -> None:
    """Profile a fresh emulator over PROFILE_ROUNDS rounds of a, and print where its time goes."""
    directory = keys.directory
    py_spy = args.py_spy or shutil.which("py-spy")
    use_py_spy = args.profile != "cprofile" and py_spy is not None
    console.print(
        f"profiling the emulator with {'py-spy' if use_py_spy else 'cProfile'} over "
        f"{PROFILE_ROUNDS} rounds of a...",
        style="dim",
    )
    profile_out = None if use_py_spy else directory / "emulator.prof"
    with running("emulator", directory, profile_out) as emulator:
        profiler: EmulatorProfiler = (
            PySpy(py_spy, emulator, directory)
            if use_py_spy and py_spy
            else CProfileSwitch(emulator)
        )
        results, _, _ = asyncio.run(
            bench(
                keys,
                emulator,
                receiver,
                rounds=0,
                orders=orders,
                concurrency=args.concurrency,
                console=console,
                profiler=profiler,
            )
        )
    if isinstance(profiler, PySpy):
        stacks = read_stacks(profiler.outputs)
        py_spy_tables(console, stacks, results)
        if args.profile_save:
            args.profile_save.write_text("".join(f"{stack} {n}\n" for stack, n in stacks.items()))
    elif profile_out is not None:
        profile_table(console, profile_out, orders * PROFILE_ROUNDS)
        if args.profile_save:
            shutil.copyfile(profile_out, args.profile_save)
    if args.profile_save:
        console.print(f"profile saved to {args.profile_save}", style="dim")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.role:  # a server subprocess
        if args.keys is None:
            parser.error("--role needs --keys")
        with contextlib.suppress(KeyboardInterrupt):
            serve(args.role, args.keys, args.profile_out)
        return 0

    if args.profile == "py-spy" and not (args.py_spy or shutil.which("py-spy")):
        parser.error("py-spy not found: pip install py-spy, or give --py-spy PATH")
    rounds = args.rounds or (3 if args.quick else 7)
    orders = args.orders or (30 if args.quick else 200)
    if rounds < 1 or orders < 1 or args.concurrency < 1:
        parser.error("--rounds, --orders and --concurrency must be positive")

    console = Console(width=None if sys.stdout.isatty() else 120)
    info = Table(title="bench/emulator.py: the emulator vs a bare notifier", title_justify="left")
    info.add_column("machine")
    info.add_column("")
    for key, value in machine().items():
        info.add_row(key, value)
    info.add_row("processes", "emulator and receiver: one uvicorn subprocess each; load: this one")
    console.print(info)

    with (
        tempfile.TemporaryDirectory(prefix="bench-emulator-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        directory = Path(tmp)
        console.print("generating keys, starting the emulator and the receiver...", style="dim")
        keys = make_keys(directory)
        receiver = stack.enter_context(running("receiver", directory))
        with running("emulator", directory) as emulator:
            a_rounds, b_rounds, ratios = asyncio.run(
                bench(
                    keys,
                    emulator,
                    receiver,
                    rounds=rounds,
                    orders=orders,
                    concurrency=args.concurrency,
                    console=console,
                    quiet=args.quiet,
                    keep_state=args.keep_state,
                )
            )
        report(
            console,
            a_rounds=a_rounds,
            b_rounds=b_rounds,
            ratios=ratios,
            concurrency=args.concurrency,
            quiet=args.quiet,
        )
        if args.profile:
            profile(args, parser, keys=keys, receiver=receiver, orders=orders, console=console)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # the servers were stopped on the way out (``running``)
        print("interrupted", file=sys.stderr)
        sys.exit(130)
