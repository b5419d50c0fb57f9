"""A merchant for emulator tests: records verified notifications and answers them, and a
transport that can make a reply go wrong in every way the emulator must survive."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response

from fintrust.trustly import (
    AsyncTrustlyClient,
    InvalidNotificationError,
    InvalidSignatureError,
    Notification,
    Signer,
    TrustlyClient,
    Verifier,
    build_notification_reply,
    generate_key_pair,
    parse_notification,
)
from trustly_emulator import Emulator, MerchantConfig
from trustly_emulator.testing import SyncASGITransport, in_process

MERCHANT = "acme"
PASSWORD = "acme-secret-password"
NOTIFY_URL = "http://merchant.test/trustly/notifications"
ALL_NOTIFICATIONS = frozenset({"account", "payoutconfirmation", "payoutfailed"})


@dataclass
class Merchant:
    """The merchant side: its key pair and what it received."""

    signer: Signer
    public_pem: str
    received: list[Notification] = field(default_factory=list)
    statuses: dict[str, str] = field(default_factory=dict)  # method -> reply status
    emulator_verifier: Verifier | None = None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/trustly/notifications")
        async def notify(request: Request) -> Response:
            assert self.emulator_verifier is not None
            try:
                notification = parse_notification(await request.body(), self.emulator_verifier)
            except (InvalidNotificationError, InvalidSignatureError) as exc:
                return Response(str(exc), status_code=400)
            self.received.append(notification)
            status = self.statuses.get(notification.method, "OK")
            reply = build_notification_reply(
                notification.method, notification.uuid, self.signer, status
            )
            return Response(reply, media_type="application/json")

        return app

    def methods(self) -> list[str]:
        return [n.method for n in self.received]


def new_merchant() -> Merchant:
    private_pem, public_pem = generate_key_pair()
    return Merchant(Signer.from_pem(private_pem), public_pem.decode("ascii"))


Fault = Callable[[httpx.Request, httpx.Response | None], httpx.Response]


class ScriptedTransport(httpx.AsyncBaseTransport):
    """Forwards to the merchant app, but the faults scripted for a notification method spoil
    its next exchanges first (``script["credit"] = ["http-500", "timeout"]``)."""

    def __init__(self, app: FastAPI, merchant: Merchant) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self.merchant = merchant
        self.script: dict[str, list[str]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = json.loads(request.read())["method"]
        faults = self.script.get(method) or self.script.get("*") or []
        fault = faults.pop(0) if faults else "ok"
        if fault == "timeout":
            raise httpx.ReadTimeout("merchant too slow", request=request)
        if fault == "http-500":
            return httpx.Response(500, content=b"Internal Server Error")
        response = await self._inner.handle_async_request(request)
        body = await response.aread()
        if fault == "ok":
            return httpx.Response(response.status_code, headers=response.headers, content=body)
        reply = json.loads(body)["result"]
        if fault == "bad-signature":
            other = Signer.from_pem(generate_key_pair()[0])
            spoiled = build_notification_reply(
                reply["method"], reply["uuid"], other, reply["data"]["status"]
            )
        elif fault == "wrong-uuid":
            spoiled = build_notification_reply(
                reply["method"], "00000000-0000-0000-0000-000000000000", self.merchant.signer
            )
        elif fault == "not-json":
            spoiled = b"OK"
        else:
            raise ValueError(f"unknown fault {fault}")
        return httpx.Response(200, content=spoiled)


@dataclass
class Setup:
    emulator: Emulator
    app: FastAPI
    merchant: Merchant
    transport: ScriptedTransport
    client: AsyncTrustlyClient


def setup(*, notifications: frozenset[str] = ALL_NOTIFICATIONS, **config: Any) -> Setup:
    merchant = new_merchant()
    merchant_app = merchant.app()
    transport = ScriptedTransport(merchant_app, merchant)
    config.setdefault("merchants", None)
    merchants = config.pop("merchants") or (
        MerchantConfig(MERCHANT, PASSWORD, merchant.public_pem, notifications),
    )
    emulator, app = in_process(
        *merchants, http_client=httpx.AsyncClient(transport=transport), **config
    )
    merchant.emulator_verifier = Verifier.from_pem(emulator.keys.public_pem)
    client = AsyncTrustlyClient(
        username=MERCHANT,
        password=PASSWORD,
        signer=merchant.signer,
        verifier=Verifier.from_pem(emulator.keys.public_pem),
        url="http://emulator.test/api/1",
        transport=httpx.ASGITransport(app=app),
        retries=0,
    )
    return Setup(emulator, app, merchant, transport, client)


def sync_client(env: Setup, url: str = "http://emulator.test/api/1") -> TrustlyClient:
    """The SDK's synchronous client for the merchant, calling the emulator in this process;
    closing it closes its transport."""
    return TrustlyClient(
        username=MERCHANT,
        password=PASSWORD,
        signer=env.merchant.signer,
        verifier=Verifier.from_pem(env.emulator.keys.public_pem),
        url=url,
        transport=SyncASGITransport(env.app),
        retries=0,
    )
