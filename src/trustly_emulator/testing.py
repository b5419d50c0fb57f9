"""Helpers to run the emulator in-process in tests, and to sign notifications in unit tests.

>>> emulator, app = in_process(merchant=merchant_config)          # doctest: +SKIP
>>> client = TrustlyClient(..., url="http://emulator/api/1", transport=sync_transport(app))
"""

from __future__ import annotations

import asyncio
import threading
import uuid as uuid_module
from collections.abc import Mapping
from typing import Any

import httpx
from fastapi import FastAPI

from fintrust.trustly import Signer, build_notification
from trustly_emulator._app import create_app
from trustly_emulator._clock import ManualClock
from trustly_emulator._config import EmulatorConfig, EmulatorKeys, MerchantConfig
from trustly_emulator._emulator import Emulator

__all__ = [
    "SyncASGITransport",
    "in_process",
    "sign_notification",
]

BASE_URL = "http://emulator.test"


def in_process(
    *merchants: MerchantConfig,
    merchant_app: Any = None,
    http_client: httpx.AsyncClient | None = None,
    clock: ManualClock | None = None,
    keys: EmulatorKeys | None = None,
    **config: Any,
) -> tuple[Emulator, FastAPI]:
    """An emulator on a :class:`ManualClock` and its app, both in this process.

    Notifications go to ``merchant_app`` (any ASGI app) through ``httpx.ASGITransport`` when
    given, or through ``http_client``, else over the network. Nothing is delivered until the
    test asks:
    ``await emulator.deliver_due()`` or ``await emulator.advance(seconds)``.
    """
    http = http_client
    if http is None and merchant_app is not None:
        http = httpx.AsyncClient(transport=httpx.ASGITransport(app=merchant_app), timeout=10)
    emulator = Emulator(
        EmulatorConfig(base_url=BASE_URL, merchants=merchants, **config),
        clock=clock or ManualClock(),
        keys=keys,
        http_client=http,
    )
    return emulator, create_app(emulator, deliver_in_background=False)


def sign_notification(
    method: str, data: Mapping[str, Any], signer: Signer, *, uuid: str | None = None
) -> bytes:
    """A notification body signed as Trustly (here: ``signer``) would send it."""
    return build_notification(method, uuid or str(uuid_module.uuid4()), dict(data), signer)


class SyncASGITransport(httpx.BaseTransport):
    """Lets a synchronous ``TrustlyClient`` call an ASGI app in-process: the app runs on an
    event loop in a private thread (``httpx.ASGITransport`` itself is async only)."""

    def __init__(self, app: Any) -> None:
        self._transport = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        async def send() -> httpx.Response:
            body = request.read()
            response = await self._transport.handle_async_request(
                httpx.Request(request.method, request.url, headers=request.headers, content=body)
            )
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        return asyncio.run_coroutine_threadsafe(send(), self._loop).result()

    def close(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
