"""``POST /trustly/notifications``: the body is read raw (signatures cover exactly it).

Notifications that arrive while a transaction is running wait for it and are then handled
together in the next one (group commit): one thread per app process writes, one commit serves
many notifications, and no two threads of a process queue for the same row locks. Under load the
next batch lingers a moment (``FINTRUST_NOTIFICATION_LINGER_MS``) for more to join it: a batch
costs ~1.9 ms of CPU whatever its size, so twice the notifications per batch is ~20 % more
notifications per second (docs/performance.md). With one notification at a time, a batch is that
one notification and nothing waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Generic, TypeVar

import anyio.to_thread
from anyio import CapacityLimiter
from starlette.types import Receive, Scope, Send

from fintrust import metrics
from fintrust.services.notifications import Decision, Received, answer, decide_batch
from fintrust.services.notifications import receive as receive_notification

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["PATH", "Batcher", "TrustlyNotifications"]

PATH = "/trustly/notifications"
# Larger batches hold their orders' row locks longer (another process may wait for one).
MAX_BATCH = 32

Item = TypeVar("Item")
Result = TypeVar("Result")


class Batcher(Generic[Item, Result]):
    """Runs ``handle`` in one thread over everything submitted meanwhile, batch after batch.

    After a batch of more than one item (the sign of load), the next one first lingers up to
    ``linger`` seconds, or until ``MAX_BATCH`` items wait, for more to join it; the first batch
    after a quiet moment never waits."""

    def __init__(
        self,
        handle: Callable[[Sequence[Item]], Sequence[Result | Exception]],
        *,
        linger: float = 0.0,
    ) -> None:
        self._handle = handle
        self._linger = linger
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._full = asyncio.Event()  # MAX_BATCH items wait: lingering is over
        self._draining = False
        self._thread = CapacityLimiter(1)

    async def submit(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= MAX_BATCH:
            self._full.set()
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        size = 0  # of the last batch
        try:
            while self._waiting:
                if size > 1 and self._linger and len(self._waiting) < MAX_BATCH:
                    await self._gather()
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                size = len(batch)
                items = [item for item, _ in batch]
                try:
                    results = await anyio.to_thread.run_sync(
                        self._handle, items, limiter=self._thread
                    )
                except Exception as exc:  # decide_batch keeps failures per item; this is a bug
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its request was cancelled (the client went away)
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = False

    async def _gather(self) -> None:
        """Wait ``linger`` seconds, or less if MAX_BATCH items are waiting by then."""
        self._full.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._linger):
                await self._full.wait()


class TrustlyNotifications:
    """The ASGI app behind ``/trustly/notifications``: the app's busiest path, answered before
    FastAPI's routing and middleware (which cost more CPU than handling a notification does:
    bench/notifications.py). An exception here reaches the server, which answers 500."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._batcher: Batcher[Received, Decision] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] != "POST":
            await _respond(send, 405, b'{"error": "use POST"}', [(b"allow", b"POST")])
            return
        started = time.perf_counter()
        services = self._services
        limit = services.settings.max_notification_bytes
        body = await _read_body(receive, limit)
        if body is None:  # the client went away
            return
        received = receive_notification(body, verifier=services.trustly.verifier, max_bytes=limit)
        if self._batcher is None:  # made inside the event loop that serves the requests
            self._batcher = Batcher(
                partial(decide_batch, services.uow),
                linger=services.settings.notification_linger_ms / 1000,
            )
        notification = received.notification
        method = metrics.method_label(notification.method if notification else None)
        try:
            decision = await self._batcher.submit(received)
        except Exception:
            metrics.notifications.labels(method, "failed").inc()
            raise
        # Signed here: RSA releases the GIL, so the batch thread goes on meanwhile, and a hop to
        # another thread would cost more than it saves.
        reply = answer(received, decision, services.trustly.signer)
        await _respond(send, reply.status_code, reply.body)
        metrics.notifications.labels(method, decision.result).inc()
        metrics.notification_seconds.observe(time.perf_counter() - started)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The raw body, or a little more than ``limit`` of it: an oversized one is not read on."""
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk: bytes = message.get("body", b"")
        body += chunk
        if len(body) > limit or not message.get("more_body", False):
            return body


async def _respond(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
