"""The checkout pages in a real browser (Debian's Chromium through Playwright), inside a merchant's
iframe, against a served emulator on the system clock that delivers notifications to a real
merchant server.

Screenshots of every page land in /tmp/checkout-*.png.
"""

from __future__ import annotations

import html
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, FrameLocator, Page, sync_playwright

from fintrust.trustly import (
    Signer,
    TrustlyClient,
    Verifier,
    build_notification_reply,
    generate_key_pair,
    parse_notification,
)
from tests.servers import Served
from trustly_emulator import Emulator, EmulatorConfig, EmulatorKeys, MerchantConfig, create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MERCHANT = "browsershop"
PASSWORD = "browsershop-password"
PERSONNUMMER = "19900101-1234"
WAIT = 10.0  # seconds: the longest any one expectation may take
SHOT = "/tmp/checkout-{}.png"  # noqa: S108 - screenshots for people to look at


# ------------------------------------------------------------------------------ servers


@dataclass
class Inbox:
    """Notifications the merchant received and verified: (order id, method), in arrival order."""

    received: list[tuple[str, str]] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def add(self, order_id: str, method: str) -> None:
        with self.changed:
            self.received.append((order_id, method))
            self.changed.notify_all()

    def of(self, order_id: str) -> list[str]:
        with self.changed:
            return [method for oid, method in self.received if oid == order_id]

    def wait_for(self, order_id: str, *methods: str) -> list[str]:
        """Wait until every one of ``methods`` arrived for ``order_id``; return all arrived."""

        def arrived() -> bool:
            got = [method for oid, method in self.received if oid == order_id]
            return all(m in got for m in methods)

        with self.changed:
            if not self.changed.wait_for(arrived, timeout=WAIT):
                raise AssertionError(f"{methods} did not arrive for {order_id}: {self.received}")
        return self.of(order_id)


def merchant_app(inbox: Inbox, signer: Signer, emulator_public_pem: str) -> FastAPI:
    """The merchant: verifies and answers notifications, embeds the checkout in an iframe."""
    app = FastAPI()
    verifier = Verifier.from_pem(emulator_public_pem)

    @app.post("/notifications")
    async def notify(request: Request) -> Response:
        notification = parse_notification(await request.body(), verifier)
        inbox.add(notification.order_id or "", notification.method)
        reply = build_notification_reply(notification.method, notification.uuid, signer)
        return Response(reply, media_type="application/json")

    @app.get("/shop", response_class=HTMLResponse)
    async def shop(url: str) -> str:
        return (
            "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Shop</title>"
            "<style>body{margin:0;padding:24px;background:#f4f1ea;font-family:sans-serif}"
            "iframe{border:0;width:400px;height:760px;background:#fff}</style></head><body>"
            f"<h1>Checkout</h1><iframe id='trustly' title='Trustly' src='{html.escape(url)}'>"
            "</iframe></body></html>"
        )

    @app.get("/success", response_class=HTMLResponse)
    async def success() -> str:
        return "<!doctype html><title>Paid</title><h1 id='result'>Thank you</h1>"

    @app.get("/fail", response_class=HTMLResponse)
    async def fail() -> str:
        return "<!doctype html><title>Failed</title><h1 id='result'>Payment cancelled</h1>"

    return app


@dataclass
class World:
    emulator: Emulator
    emulator_url: str
    merchant_url: str
    inbox: Inbox
    client: TrustlyClient
    browser: Browser

    def deposit(self, end_user: str | None = None, **attributes: str) -> tuple[str, str]:
        """A Deposit made through the SDK over HTTP; returns (order id, checkout URL). An
        attribute given as "" is left out."""
        attrs = {
            "Country": "SE",
            "Locale": "en_GB",
            "Currency": "SEK",
            "Amount": "250.00",
            "Firstname": "Åsa",
            "Lastname": "Öberg",
            "ShopperStatement": "Browser Shop",
            "SuccessURL": f"{self.merchant_url}/success",
            "FailURL": f"{self.merchant_url}/fail",
            "URLTarget": "_top",
            **attributes,
        }
        result = self.client.call(
            "Deposit",
            {
                "NotificationURL": f"{self.merchant_url}/notifications",
                "EndUserID": end_user or f"user-{uuid.uuid4().hex[:8]}",
                "MessageID": str(uuid.uuid4()),
                "Attributes": {k: v for k, v in attrs.items() if v},
            },
        )
        return str(result["orderid"]), str(result["url"])

    def shop_page(self, checkout_url: str) -> tuple[Page, FrameLocator]:
        page = self.browser.new_page(viewport={"width": 560, "height": 900})
        page.goto(f"{self.merchant_url}/shop?url={quote(checkout_url, safe='')}")
        return page, page.frame_locator("#trustly")


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    private_pem, public_pem = generate_key_pair()
    signer = Signer.from_pem(private_pem)
    keys = EmulatorKeys.ephemeral()
    inbox = Inbox()
    merchant = MerchantConfig(
        MERCHANT, PASSWORD, public_pem.decode("ascii"), frozenset({"account"})
    )
    holder: dict[str, Emulator] = {}

    def emulator_app(url: str) -> FastAPI:
        holder["emulator"] = Emulator(
            EmulatorConfig(base_url=url, merchants=(merchant,), retry_delays=(0.5,)), keys=keys
        )
        return create_app(holder["emulator"])  # system clock: delivery runs in the background

    with (
        Served(lambda _: merchant_app(inbox, signer, keys.public_pem)) as shop,
        Served(emulator_app) as served,
        TrustlyClient(
            username=MERCHANT,
            password=PASSWORD,
            signer=signer,
            verifier=Verifier.from_pem(keys.public_pem),
            url=f"{served.url}/api/1",
            retries=0,
        ) as client,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield World(holder["emulator"], served.url, shop.url, inbox, client, browser)
        finally:
            browser.close()


def shoot(target: Page | FrameLocator, name: str, page: Page | None = None) -> None:
    """Save a screenshot of the checkout (the iframe element when it is framed)."""
    if isinstance(target, Page):
        target.screenshot(path=SHOT.format(name), full_page=True)
    else:
        assert page is not None
        page.locator("#trustly").screenshot(path=SHOT.format(name))


def expect_text(frame: FrameLocator | Page, text: str) -> None:
    frame.get_by_text(text, exact=False).first.wait_for(timeout=WAIT * 1000)


# ------------------------------------------------------------------------------ tests


def test_deposit_in_an_iframe_goes_top_to_success_url_and_notifies(world: World) -> None:
    order_id, url = world.deposit(end_user="returning-user")
    page, frame = world.shop_page(url)
    try:
        expect_text(frame, "Choose your bank")
        shoot(frame, "1-bank", page)
        frame.get_by_role("radio", name="Swedbank").check()
        frame.get_by_role("button", name="Continue").click()

        expect_text(frame, "Log in to Swedbank")
        frame.get_by_label("Personnummer").fill(PERSONNUMMER)
        shoot(frame, "2-login", page)
        frame.get_by_role("button", name="Log in").click()

        expect_text(frame, "Choose account")
        frame.get_by_role("radio", name="Savings account").check()
        shoot(frame, "3-account", page)
        frame.get_by_role("button", name="Continue").click()

        expect_text(frame, "Pay 250.00 SEK to Browser Shop")
        shoot(frame, "4-confirm", page)
        frame.get_by_role("button", name="Confirm").click()

        page.wait_for_url(f"{world.merchant_url}/success", timeout=WAIT * 1000)
        assert page.locator("#result").inner_text() == "Thank you"
    finally:
        page.close()
    arrived = world.inbox.wait_for(order_id, "pending", "account", "credit")
    assert arrived == ["pending", "account", "credit"]
    order = world.emulator.store.orders[order_id]
    assert order.scenario == "deposit-ok"
    assert order.state == "credited"
    assert order.account_id is not None


def test_close_button_cancels_and_goes_to_fail_url(world: World) -> None:
    order_id, url = world.deposit()
    page, frame = world.shop_page(url)
    try:
        frame.get_by_role("radio", name="SEB").check()
        frame.get_by_role("button", name="Continue").click()
        expect_text(frame, "Log in to SEB")
        frame.get_by_role("button", name="Close and cancel").click()
        page.wait_for_url(f"{world.merchant_url}/fail", timeout=WAIT * 1000)
        assert page.locator("#result").inner_text() == "Payment cancelled"
    finally:
        page.close()
    assert world.inbox.wait_for(order_id, "cancel") == ["cancel"]
    assert world.emulator.store.orders[order_id].state == "cancelled"


def test_order_options_run_trustly_test_case_d1(world: World) -> None:
    order_id, url = world.deposit()
    page, frame = world.shop_page(url)
    try:
        d1 = frame.get_by_role("radio", name="D1: Complete order")
        assert not d1.is_visible()
        frame.get_by_text("Set order options").click()
        d1.check()
        shoot(frame, "1-bank-order-options", page)
        frame.get_by_role("radio", name="Handelsbanken").check()
        frame.get_by_role("button", name="Continue").click()
        frame.get_by_label("Personnummer").fill(PERSONNUMMER)
        frame.get_by_role("button", name="Log in").click()
        frame.get_by_role("button", name="Continue").click()
        frame.get_by_role("button", name="Confirm").click()
        page.wait_for_url(f"{world.merchant_url}/success", timeout=WAIT * 1000)
    finally:
        page.close()
    world.inbox.wait_for(order_id, "credit")
    # D1 debits 5 s after the credit: skip the wait instead of sleeping through it.
    httpx.post(
        f"{world.emulator_url}/_emulator/clock/advance", json={"seconds": 10}, timeout=WAIT
    ).raise_for_status()
    arrived = world.inbox.wait_for(order_id, "debit")
    assert arrived == ["pending", "account", "credit", "debit"]
    assert world.emulator.store.orders[order_id].scenario == "D1"


def test_express_and_end_pages_on_desktop(world: World) -> None:
    """Trustly Express at full width: the last account is one Confirm away."""
    first_id, _ = world.deposit(end_user="express-user")
    httpx.post(  # an earlier deposit, completed headlessly through the control plane
        f"{world.emulator_url}/_emulator/orders/{first_id}/complete", json={}, timeout=WAIT
    ).raise_for_status()
    world.inbox.wait_for(first_id, "account")
    account_id = world.emulator.store.orders[first_id].account_id or ""
    account = world.emulator.store.accounts[account_id]

    order_id, url = world.deposit(
        end_user="express-user", AccountID=account_id, URLTarget="_self", SuccessURL=""
    )
    page = world.browser.new_page(viewport={"width": 1280, "height": 860})
    try:
        page.goto(url)
        expect_text(page, f"Pay from {account.bank} {account.descriptor}")
        shoot(page, "5-express-desktop", None)
        page.get_by_role("button", name="Confirm").click()
        expect_text(page, "You can close this window.")
        shoot(page, "6-done-desktop", None)
        page.goto(url)
        expect_text(page, "already finished")

        _, timeout_url = world.deposit(FailURL="", Locale="sv_SE")
        page.goto(timeout_url)
        page.get_by_role("radio", name="Nordea").check()
        page.get_by_role("button", name="Fortsätt").click()
        shoot(page, "7-login-swedish-desktop", None)
        page.get_by_label("Personnummer").fill("19900101-9999")
        page.get_by_role("button", name="Logga in").click()
        expect_text(page, "Banken svarade inte i tid")
        shoot(page, "8-timeout-swedish-desktop", None)
    finally:
        page.close()
    assert world.inbox.wait_for(order_id, "credit") == ["pending", "account", "credit"]
    assert world.emulator.store.orders[order_id].account_id == account_id


def test_pages_work_without_javascript(world: World) -> None:
    """No script: the country "Update" button, the amount field, a refused login, and the
    break-out page's link to SuccessURL (its script cannot run)."""
    order_id, url = world.deposit(
        Amount="", SuggestedMinAmount="10.00", SuggestedMaxAmount="900.00", Country="FI"
    )
    context = world.browser.new_context(
        java_script_enabled=False, viewport={"width": 400, "height": 800}
    )
    page = context.new_page()
    try:
        page.goto(url)
        page.get_by_label("Country").select_option("NO")
        page.get_by_role("button", name="Update").click()
        expect_text(page, "SpareBank 1")
        page.get_by_label("Amount (SEK)").fill("5")
        page.get_by_role("radio", name="DNB").check()
        page.get_by_role("button", name="Continue").click()
        expect_text(page, "Enter an amount in the allowed range.")
        shoot(page, "9-amount-error-narrow", None)
        page.get_by_label("Amount (SEK)").fill("42.50")
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Fødselsnummer").fill("01019010000")
        page.get_by_role("button", name="Log in").click()
        expect_text(page, "The bank did not accept this login.")
        shoot(page, "10-login-refused-narrow", None)
        page.get_by_label("Fødselsnummer").fill("01019012345")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Continue").click()
        expect_text(page, "Pay 42.50 SEK to Browser Shop")
        page.get_by_role("button", name="Confirm").click()
        link = page.get_by_role("link", name="Continue to Browser Shop")
        link.wait_for(timeout=WAIT * 1000)
        shoot(page, "11-redirect-narrow", None)
        link.click()
        page.wait_for_url(f"{world.merchant_url}/success", timeout=WAIT * 1000)

        page.goto(f"{world.emulator_url}/checkout?OrderID={order_id}&SessionID=wrong")
        expect_text(page, "Payment not found")
        shoot(page, "12-not-found-narrow", None)
    finally:
        context.close()
    assert world.inbox.wait_for(order_id, "credit") == ["pending", "account", "credit"]
    assert str(world.emulator.store.orders[order_id].amount) == "42.50"
