"""The inspector's HTML pages: the overview and an order's notifications and delivery attempts."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from markupsafe import escape

from fintrust.trustly import (
    Signer,
    Verifier,
    build_notification_reply,
    generate_key_pair,
    parse_notification,
)
from trustly_emulator import Emulator, FaultRule, MerchantConfig
from trustly_emulator._state import Order
from trustly_emulator.testing import in_process

pytestmark = pytest.mark.anyio

MERCHANT = "acme"
PASSWORD = "acme-inspector-password-9f3c"
NOTIFY_URL = "http://merchant.test/notify"
FAILING_URL = "http://merchant.test/broken"
INJECTED = "<script>alert('pwned')</script>"


@dataclass
class Inspected:
    emulator: Emulator
    app: FastAPI
    delivered: Order  # D1: every notification delivered, first try
    failing: Order  # the merchant answers 500 to everything
    created: Order  # the end user has not finished the checkout


def receiver(signer: Signer, emulator_keys: list[Verifier]) -> FastAPI:
    """A merchant that verifies notifications and answers them, except at /broken."""
    app = FastAPI()

    @app.post("/notify")
    async def notify(request: Request) -> Response:
        notification = parse_notification(await request.body(), emulator_keys[0])
        reply = build_notification_reply(notification.method, notification.uuid, signer)
        return Response(reply, media_type="application/json")

    @app.post("/broken")
    async def broken() -> Response:
        return Response("<h1>Internal Server Error</h1>", status_code=500)

    return app


def _order(emulator: Emulator, order_id: str, url: str, **attributes: str) -> Order:
    return emulator.adopt_order(
        merchant=MERCHANT,
        method="Deposit",
        order_id=order_id,
        message_id=f"msg-{order_id}",
        end_user_id="user-42",
        notification_url=url,
        amount=Decimal("125.50"),
        currency="EUR",
        attributes={"Country": "SE", **attributes},
    )


async def build_inspected() -> Inspected:
    """An emulator that has done a bit of everything the inspector shows."""
    private_pem, public_pem = generate_key_pair()
    verifiers: list[Verifier] = []
    merchant_app = receiver(Signer.from_pem(private_pem), verifiers)
    merchant = MerchantConfig(
        MERCHANT,
        PASSWORD,
        public_pem.decode("ascii"),
        frozenset({"account", "payoutconfirmation", "payoutfailed"}),
        {"EUR": "1000.00", "SEK": "25000"},
    )
    emulator, app = in_process(merchant, merchant_app=merchant_app, max_attempts=3)
    verifiers.append(Verifier.from_pem(emulator.keys.public_pem))

    delivered = _order(
        emulator, "1111111111", NOTIFY_URL, Firstname=INJECTED, Lastname="O'Brien & Sons"
    )
    emulator.complete_checkout(delivered, scenario_id="D1")
    failing = _order(emulator, "2222222222", FAILING_URL, Firstname="Ada")
    emulator.complete_checkout(failing, scenario_id="deposit-ok")
    created = _order(emulator, "3333333333", NOTIFY_URL)
    await emulator.advance(600)

    emulator.faults.add(FaultRule(kind="duplicate", merchant=MERCHANT, times=2))
    emulator.handle_api(
        b'{"method": "Deposit", "version": "1.1", "params": {"Signature": "x", '
        b'"UUID": "8b1b52f0-0000-4000-8000-000000000000", '
        b'"Data": {"Username": "acme", "Password": "not-the-password", "Attributes": {}}}}'
    )
    return Inspected(emulator, app, delivered, failing, created)


@pytest.fixture
async def inspected() -> Inspected:
    return await build_inspected()


async def get(app: FastAPI, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        return await client.get(path)


async def test_index_lists_merchants_orders_errors_and_faults(inspected: Inspected) -> None:
    response = await get(inspected.app, "/_emulator/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    for order in (inspected.delivered, inspected.failing, inspected.created):
        assert f"/_emulator/inspector/orders/{order.order_id}" in page
    assert MERCHANT in page
    balance = inspected.emulator.store.balance(MERCHANT, "EUR")
    assert balance == Decimal("1125.50")  # D1 credits then debits; the failing one is credited
    assert "1,125.50 EUR" in page
    assert "25,000.00 SEK" in page
    assert "ERROR_INVALID_CREDENTIALS" in page
    assert "616" in page
    assert "duplicate" in page  # the fault rule
    assert "D1" in page
    assert PASSWORD not in page
    assert "not-the-password" not in page
    assert "/_emulator/static/inspector.css" in page
    assert 'http-equiv="refresh"' not in page


async def test_index_auto_refresh(inspected: Inspected) -> None:
    page = (await get(inspected.app, "/_emulator/?refresh=5")).text
    assert '<meta http-equiv="refresh" content="5">' in page
    assert "/_emulator/inspector/orders/1111111111?refresh=5" in page


async def test_order_page_shows_notifications_and_attempts(inspected: Inspected) -> None:
    order = inspected.delivered
    response = await get(inspected.app, f"/_emulator/inspector/orders/{order.order_id}")
    assert response.status_code == 200
    page = response.text
    assert order.order_id in page
    records = inspected.emulator.store.notifications_of(order.order_id)
    assert [r.method for r in records] == ["pending", "account", "credit", "debit"]
    for record in records:
        assert record.notification_id in page
        assert f"/_emulator/notifications/{record.notification_id}/redeliver" in page
        assert len(record.attempts) == 1
        assert str(escape(f'"uuid": "{record.uuid}"')) in page  # the request body, shown
    assert page.count(">ok</span>") == 4  # one verdict badge per attempt
    assert "Request and reply bodies" in page
    assert "debited" in page
    assert "Finish the checkout" not in page  # no longer completable


async def test_order_page_escapes_attributes(inspected: Inspected) -> None:
    order = inspected.delivered
    page = (await get(inspected.app, f"/_emulator/inspector/orders/{order.order_id}")).text
    assert INJECTED not in page
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in page
    assert "O&#39;Brien &amp; Sons" in page
    # The notification bodies carry the injected name too (kyc would); nothing unescaped leaks.
    assert "<script>alert" not in page
    assert PASSWORD not in page


async def test_order_page_shows_failed_attempts(inspected: Inspected) -> None:
    order = inspected.failing
    page = (await get(inspected.app, f"/_emulator/inspector/orders/{order.order_id}")).text
    assert "invalid reply (HTTP 500)" in page
    assert ">failed</span>" in page
    assert "&lt;h1&gt;Internal Server Error&lt;/h1&gt;" in page  # the reply body, escaped
    assert "badge-bad" in page


async def test_created_order_offers_complete_and_cancel(inspected: Inspected) -> None:
    order = inspected.created
    page = (await get(inspected.app, f"/_emulator/inspector/orders/{order.order_id}")).text
    assert "Finish the checkout" in page
    assert f'data-post="/_emulator/orders/{order.order_id}/complete"' in page
    assert f'data-post="/_emulator/orders/{order.order_id}/cancel"' in page
    assert '<option value="deposit-ok" selected>' in page
    assert "No notifications for this order yet." in page


async def test_the_buttons_endpoints_work(inspected: Inspected) -> None:
    """The inspector's forms post JSON built from their fields to these control plane routes."""
    order = inspected.created
    transport = httpx.ASGITransport(app=inspected.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.test") as client:
        completed = await client.post(
            f"/_emulator/orders/{order.order_id}/complete", json={"scenario": "deposit-ok"}
        )
        assert completed.status_code == 200, completed.text
        record = inspected.emulator.store.notifications_of(order.order_id)[0]
        again = await client.post(f"/_emulator/notifications/{record.notification_id}/redeliver")
        assert again.status_code == 200, again.text
        advanced = await client.post("/_emulator/clock/advance", json={"seconds": "60"})
        assert advanced.status_code == 200, advanced.text
    page = (await get(inspected.app, f"/_emulator/inspector/orders/{order.order_id}")).text
    assert "Finish the checkout" not in page
    assert "credited" in page


async def test_unknown_order_is_a_404_page(inspected: Inspected) -> None:
    response = await get(inspected.app, "/_emulator/inspector/orders/<b>9")
    assert response.status_code == 404
    assert "No order &lt;b&gt;9" in response.text
    assert "<b>9" not in response.text


async def test_inspector_pages_are_not_in_the_openapi_schema(inspected: Inspected) -> None:
    schema = (await get(inspected.app, "/_emulator/openapi.json")).json()
    assert not any(path.startswith("/_emulator/inspector") for path in schema["paths"])
    assert "/_emulator/" not in schema["paths"]
