"""A scripted Trustly endpoint for client tests, served through ``httpx.MockTransport``."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx

from fintrust.trustly import build_error, build_result, signed_part
from tests.conftest import KeyPair

Reply = Callable[[dict[str, Any]], httpx.Response]


class FakeTrustly:
    """Records every request body; answers with the next scripted reply (the last one repeats)."""

    def __init__(
        self, trustly_keys: KeyPair, merchant_keys: KeyPair, *replies: Reply | Exception
    ) -> None:
        self.trustly_keys = trustly_keys
        self.merchant_keys = merchant_keys
        self.replies = list(replies) or [self.ok({"orderid": "1", "result": "1"})]
        self.bodies: list[bytes] = []
        self.headers: list[httpx.Headers] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.bodies.append(request.content)
        self.headers.append(request.headers)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        if isinstance(reply, Exception):
            raise reply
        message = json.loads(request.content)
        part = signed_part(message)
        assert self.merchant_keys.verifier.verify(part.method, part.uuid, part.data, part.signature)
        return reply(message)

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        return self.handle(request)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    @property
    def async_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle_async)

    @property
    def last_request(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self.bodies[-1])
        return result

    def ok(self, data: Any, *, uuid: str | None = None, method: str | None = None) -> Reply:
        def reply(message: dict[str, Any]) -> httpx.Response:
            body = build_result(
                method or message["method"],
                uuid or message["params"]["UUID"],
                data,
                self.trustly_keys.signer,
            )
            return httpx.Response(200, content=body)

        return reply

    def error(self, code: int, name: str, *, signed: bool = True, status: int = 200) -> Reply:
        def reply(message: dict[str, Any]) -> httpx.Response:
            signer = self.trustly_keys.signer if signed else None
            body = build_error(message["method"], message["params"]["UUID"], code, name, signer)
            return httpx.Response(status, content=body)

        return reply

    @staticmethod
    def status(code: int, text: bytes = b"<html>Bad gateway</html>") -> Reply:
        return lambda message: httpx.Response(code, content=text)
