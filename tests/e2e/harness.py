"""The merchant app against the real emulator, both in this process."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import Engine

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.adapters.trustly import TrustlyGateway
from fintrust.domain.ledger import wallet
from fintrust.domain.money import Money
from fintrust.services import outbox, payments
from fintrust.services.customers import register_customer
from fintrust.settings import Settings
from fintrust.trustly import Signer, TrustlyClient, Verifier, generate_key_pair
from fintrust.web import Services, create_app
from trustly_emulator import Emulator, MerchantConfig
from trustly_emulator.testing import SyncASGITransport, in_process

USERNAME, PASSWORD = "fintrust-demo", "demo-password"
NOTIFY = "http://merchant.test/trustly/notifications"


@dataclass
class World:
    emulator: Emulator
    emulator_app: FastAPI
    app: FastAPI
    services: Services
    transport: SyncASGITransport

    def uow(self) -> SqlUnitOfWork:
        return self.services.uow()

    def customer(self, end_user_id: str = "cust-1", currency: str = "EUR") -> int:
        return register_customer(
            self.uow,
            end_user_id=end_user_id,
            firstname="Åsa",
            lastname="Öberg",
            country="SE",
            locale="sv_SE",
            currency=currency,
        )

    def deposit(self, customer_id: int, amount: str, currency: str = "EUR") -> str:
        """Start a deposit, send its Deposit call; returns Trustly's order id."""
        started = payments.start_deposit(
            self.uow,
            customer_id=customer_id,
            amount=Money.of(amount, currency),
            notification_url=NOTIFY,
            success_url="http://merchant.test/ok",
            fail_url="http://merchant.test/fail",
            shopper_statement="fintrust",
        )
        assert outbox.drain_outbox(self.uow, self.services.trustly.client) == {"done": 1}
        with self.uow() as work:
            order = work.orders.get(started.order_id)
            assert order is not None
            return str(order.trustly_order_id)

    async def complete(self, trustly_order_id: str, scenario: str | None = None) -> None:
        order = self.emulator.store.orders[trustly_order_id]
        self.emulator.complete_checkout(order, scenario_id=scenario)
        await self.emulator.deliver_due()

    def balance(self, customer_id: int, currency: str = "EUR") -> Decimal:
        with self.uow() as work:
            return work.ledger.balance(wallet(customer_id), currency).posted.amount

    def available(self, customer_id: int, currency: str = "EUR") -> Decimal:
        with self.uow() as work:
            return work.ledger.balance(wallet(customer_id), currency).available.amount

    def close(self) -> None:
        self.transport.close()


def build_world(
    engine: Engine, tmp_path: Path, *, notifications: frozenset[str] | None = None
) -> World:
    private_pem, public_pem = generate_key_pair()
    key_file = tmp_path / "merchant_private.pem"
    key_file.write_bytes(private_pem)
    enabled = (
        notifications
        if notifications is not None
        else frozenset({"account", "payoutconfirmation", "payoutfailed"})
    )
    holder: dict[str, FastAPI] = {}

    class LateApp:  # the merchant app is built after the emulator, which must know it first
        async def __call__(self, scope: object, receive: object, send: object) -> None:
            await holder["app"](scope, receive, send)  # type: ignore[arg-type]

    emulator, emulator_app = in_process(
        MerchantConfig(USERNAME, PASSWORD, public_pem.decode(), enabled),
        merchant_app=LateApp(),
    )
    transport = SyncASGITransport(emulator_app)
    signer = Signer.from_pem(private_pem)
    verifier = Verifier.from_pem(emulator.keys.public_pem)
    client = TrustlyClient(
        username=USERNAME,
        password=PASSWORD,
        signer=signer,
        verifier=verifier,
        url="http://emulator.test/api/1",
        transport=transport,
        retries=0,
    )
    settings = Settings(
        database_url=str(engine.url),
        trustly_api_url="http://emulator.test/api/1",
        trustly_username=USERNAME,
        notification_url=NOTIFY,
        trustly_private_key_file=key_file,
    )
    services = Services(settings, engine, TrustlyGateway(client, signer, verifier))
    app = create_app(services)
    holder["app"] = app
    return World(emulator, emulator_app, app, services, transport)


def http(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://merchant.test"
    )
