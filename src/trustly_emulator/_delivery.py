"""Notification delivery: POST signed notifications, check the merchant's signed reply, and
re-deliver with the same notificationid and growing back-off until a valid reply comes."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from fintrust.trustly import (
    InvalidNotificationError,
    InvalidSignatureError,
    build_notification,
    read_notification_reply,
)
from trustly_emulator._events import apply_event, notification_data
from trustly_emulator._state import DeliveryAttempt, NotificationRecord

if TYPE_CHECKING:
    from trustly_emulator._emulator import Emulator

__all__ = ["Dispatcher"]

logger = logging.getLogger("trustly_emulator.delivery")
_HEADERS = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "trustly-emulator"}
_EXCERPT = 2000  # bytes of a reply kept per attempt


class Dispatcher:
    def __init__(self, emulator: Emulator, http: httpx.AsyncClient | None) -> None:
        self.emulator = emulator
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=emulator.config.delivery_timeout)
        self._wakeup = asyncio.Event()
        self._running = asyncio.Lock()
        # (due_at, sequence, notification id); entries whose record moved on are skipped.
        self._queue: list[tuple[float, int, str]] = []
        self._sequence = itertools.count()

    def schedule(self, record: NotificationRecord, due_at: float) -> None:
        record.state, record.due_at = "scheduled", due_at
        heapq.heappush(self._queue, (due_at, next(self._sequence), record.notification_id))
        self._wakeup.set()

    def forget(self) -> None:
        self._queue.clear()

    def _pop_due(self, now: float) -> NotificationRecord | None:
        notifications = self.emulator.store.notifications
        while self._queue and self._queue[0][0] <= now:
            due_at, _, notification_id = heapq.heappop(self._queue)
            record = notifications.get(notification_id)
            if record is not None and record.state == "scheduled" and record.due_at == due_at:
                return record
        return None

    def wake(self) -> None:
        self._wakeup.set()

    def next_due(self) -> float | None:
        """When the next notification or checkout abandonment falls due."""
        notifications = self.emulator.store.notifications
        while self._queue:
            due_at, _, notification_id = self._queue[0]
            record = notifications.get(notification_id)
            if record is not None and record.state == "scheduled" and record.due_at == due_at:
                break
            heapq.heappop(self._queue)  # stale: delivered, rescheduled or reset since
        due = [self._queue[0][0]] if self._queue else []
        abandonment = self.emulator.abandonment_due()
        if abandonment is not None:
            due.append(abandonment)
        return min(due, default=None)

    async def deliver_due(self) -> int:
        """Fire and deliver everything due now, including what that schedules for now.
        Returns the number of delivery attempts made."""
        attempts = 0
        async with self._running:
            while True:
                self.emulator.expire_abandoned()
                now = self.emulator.clock.now()
                due = [
                    r for r in self.emulator.store.notifications.values()
                    if r.state == "scheduled" and r.due_at <= now
                ]  # fmt: skip
                if not due:
                    return attempts
                due.sort(key=lambda r: r.due_at)  # stable: creation order breaks ties
                for record in due:
                    if record.state == "scheduled":
                        attempts += await self._process(record)

    async def run_forever(self) -> None:
        """Deliver as time passes (for a served emulator on the system clock)."""
        while True:
            try:
                await self.deliver_due()
            except Exception:  # a bug must not stop delivery for everyone
                logger.exception("delivery loop failed; continuing")
            next_due = self.next_due()
            timeout = None if next_due is None else max(0.0, next_due - self.emulator.clock.now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout)
            self._wakeup.clear()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def _process(self, record: NotificationRecord) -> int:
        """Fire the record's event if it has not happened yet, then attempt delivery."""
        if not record.fired and not self._fire(record):
            return 0
        await self.attempt(record)
        return 1

    def _fire(self, record: NotificationRecord) -> bool:
        """Apply the event and build the notification; False when it is not to be sent."""
        emulator = self.emulator
        order = emulator.store.orders[record.order_id]  # scenario records always have one
        now = emulator.clock.now()
        record.fired = True
        apply_event(emulator.store, order, record, now)
        record.data = notification_data(emulator.store, order, record, now)
        if not emulator.store.merchants[order.merchant].wants(record.method):
            record.state = "not-sent"  # turned off for this merchant; the event still happened
            return False
        if str(order.attributes.get("HoldNotifications", "")) == "1":
            record.state = "held"
            return False
        if emulator.faults.take("duplicate", order.merchant, order.order_id, record.method):
            record.duplicates_left += 1
        return True

    async def attempt(self, record: NotificationRecord) -> DeliveryAttempt:
        """One delivery attempt, recorded; schedules the retry or the next steps."""
        emulator = self.emulator
        body = build_notification(record.method, record.uuid, record.data, emulator.keys.signer)
        started = time.perf_counter()
        status: int | None = None
        reply_status: str | None = None
        text = ""
        if emulator.faults.take("reset", record.merchant, record.order_id, record.method):
            verdict = await self._reset(record.url, body)
        else:
            try:
                response = await self.http.post(record.url, content=body, headers=_HEADERS)
                status = response.status_code
                text = response.content[:_EXCERPT].decode("utf-8", errors="replace")
                verdict, reply_status = self._judge(record, response)
            except httpx.HTTPError as exc:
                verdict, reply_status = f"no reply: {type(exc).__name__}: {exc}", None
        latency = (time.perf_counter() - started) * 1000
        attempt = DeliveryAttempt(
            at=emulator.clock.now(),
            request=body.decode("utf-8"),
            status=status,
            response=text,
            latency_ms=round(latency, 2),
            verdict=verdict,
            reply_status=reply_status,
        )
        record.attempts.append(attempt)
        if verdict.startswith("ok"):
            self._delivered(record, attempt)
        else:
            self._retry(record)
        return attempt

    def _judge(
        self, record: NotificationRecord, response: httpx.Response
    ) -> tuple[str, str | None]:
        emulator = self.emulator
        try:
            reply = read_notification_reply(
                response.content,
                method=record.method,
                uuid=record.uuid,
                verifier=emulator.merchant_verifier(record.merchant),
            )
        except (InvalidNotificationError, InvalidSignatureError) as exc:
            return f"invalid reply (HTTP {response.status_code}): {exc}", None
        if record.reply_status is not None and reply.status != record.reply_status:
            return (
                f"different status on re-delivery: {reply.status}, first {record.reply_status}",
                None,
            )
        rule = emulator.faults.take("drop_reply", record.merchant, record.order_id, record.method)
        if rule is not None or self._scenario_drops(record):
            record.reply_status = reply.status  # the merchant did answer and commit
            return "reply dropped after the merchant committed (fault)", None
        return "ok", reply.status

    def _scenario_drops(self, record: NotificationRecord) -> bool:
        order = self.emulator.store.order(record.order_id)
        if order is None or order.scenario is None:
            return False
        drops = self.emulator.scenario_of(order).delivery.drop_reply
        # Only the first valid reply is lost; the re-delivery's reply gets through.
        return record.method in drops and not any(
            a.verdict.startswith("reply dropped") for a in record.attempts
        )

    def _delivered(self, record: NotificationRecord, attempt: DeliveryAttempt) -> None:
        first = not any(a.verdict.startswith("ok") for a in record.attempts[:-1])
        record.state = "delivered"
        record.reply_status = attempt.reply_status
        if record.duplicates_left > 0:
            record.duplicates_left -= 1
            self.schedule(record, self.emulator.clock.now())
        if first and record.on_reply:
            self.emulator.on_reply(record, attempt.reply_status or "")

    def _retry(self, record: NotificationRecord) -> None:
        failures = sum(1 for a in record.attempts if not a.verdict.startswith("ok"))
        if failures >= self.emulator.config.max_attempts:
            record.state = "failed"
            logger.warning(
                "gave up on notification %s after %d attempts", record.notification_id, failures
            )
            return
        self.schedule(
            record, self.emulator.clock.now() + self.emulator.config.retry_delay(failures)
        )

    async def _reset(self, url: str, body: bytes) -> str:
        """Send half the request over a raw connection, then reset it: the merchant never
        gets a whole request (with an in-process transport, nothing is sent at all)."""
        parts = urlsplit(url)
        if not self._owns_http or parts.scheme != "http" or not parts.hostname:
            return "connection reset before the request was sent (fault)"
        try:
            _, writer = await asyncio.open_connection(parts.hostname, parts.port or 80)
            head = (
                f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            writer.write(head + body[: len(body) // 2])
            await writer.drain()
            writer.transport.abort()
        except OSError as exc:
            return f"connection reset (fault); connecting failed too: {exc}"
        return "connection reset mid-request (fault)"
