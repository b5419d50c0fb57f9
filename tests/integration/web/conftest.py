"""The merchant API against the real emulator (in-process), on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fintrust.services.api_keys import create_api_key
from tests.e2e.harness import World, http


@pytest.fixture
def api_key(world: World) -> str:
    return create_api_key(world.uow, "tests").secret


class Api:
    """An authenticated client: every POST gets a fresh Idempotency-Key unless given one."""

    def __init__(self, client: httpx.AsyncClient, key: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}"}

    async def get(self, path: str) -> httpx.Response:
        return await self.client.get(f"/api/v1{path}", headers=self.headers)

    async def post(
        self, path: str, body: Any, *, key: str | None = None, **headers: str
    ) -> httpx.Response:
        sent = {**self.headers, "Idempotency-Key": key or str(uuid.uuid4()), **headers}
        return await self.client.post(f"/api/v1{path}", json=body, headers=sent)

    async def customer(self, **fields: Any) -> dict[str, Any]:
        body = {
            "firstname": "Åsa",
            "lastname": "Öberg",
            "country": "SE",
            "locale": "sv_SE",
            "currency": "EUR",
            **fields,
        }
        response = await self.post("/customers", body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def deposit(self, customer_id: int, amount: str, **fields: Any) -> httpx.Response:
        body = {
            "amount": amount,
            "currency": "EUR",
            "success_url": "https://merchant.test/ok",
            "fail_url": "https://merchant.test/fail",
            **fields,
        }
        return await self.post(f"/customers/{customer_id}/deposits", body)


@pytest.fixture
async def api(world: World, api_key: str) -> AsyncIterator[Api]:
    async with http(world.app) as client:
        yield Api(client, api_key)
