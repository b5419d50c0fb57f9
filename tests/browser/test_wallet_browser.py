"""The customer pages in a real browser (Debian's Chromium through Playwright): the merchant app
and the emulator as real servers on loopback, the emulator on the system clock delivering
notifications to the merchant in the background.

A demo customer signs in, deposits through the iframe and the emulator's bank pages, sees the
new balance once the credit has arrived, withdraws and sees it pending. Screenshots of every
page land in /tmp/wallet-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine

from fintrust.adapters.db.engine import make_engine
from fintrust.adapters.db.migrate import upgrade
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.adapters.trustly import TrustlyGateway
from fintrust.services import outbox
from fintrust.services.customers import register_customer
from fintrust.settings import Settings
from fintrust.trustly import Signer, TrustlyClient, Verifier, generate_key_pair
from fintrust.web import Services, create_app
from tests.servers import Served
from trustly_emulator import Emulator, EmulatorConfig, EmulatorKeys, MerchantConfig
from trustly_emulator import create_app as create_emulator_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERNAME, PASSWORD = "fintrust-markets", "markets-password"
PERSONNUMMER = "19900101-1234"
WAIT = 10_000  # milliseconds: the longest any one expectation may take
SHOT = "/tmp/wallet-{}.png"  # noqa: S108 - screenshots for people to look at
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@dataclass
class World:
    merchant_url: str
    emulator_url: str
    services: Services
    browser: Browser
    customers: dict[str, int]

    def desktop(self) -> Page:
        return self.browser.new_context(viewport=DESKTOP).new_page()

    def last_order(self, customer_id: int) -> int:
        with self.services.uow() as work:
            return int(work.orders.of_customer(customer_id)[0].id)

    def trustly_order(self, order_id: int) -> str:
        with self.services.uow() as work:
            order = work.orders.get(order_id)
            assert order is not None
            return str(order.trustly_order_id)

    def control(self, path: str, body: dict[str, object]) -> None:
        url = f"{self.emulator_url}/_emulator/{path}"
        httpx.post(url, json=body, timeout=WAIT / 1000).raise_for_status()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp_path = tmp_path_factory.mktemp("wallet-browser")
    private_pem, public_pem = generate_key_pair()
    key_file = tmp_path / "merchant_private.pem"
    key_file.write_bytes(private_pem)
    signer = Signer.from_pem(private_pem)
    keys = EmulatorKeys.ephemeral()
    verifier = Verifier.from_pem(keys.public_pem)
    merchant = MerchantConfig(
        USERNAME, PASSWORD, public_pem.decode("ascii"), frozenset({"account", "payoutconfirmation"})
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'fintrust.sqlite3'}")
    upgrade(engine)
    customers = _demo_customers(engine)

    def emulator_app(url: str) -> FastAPI:
        config = EmulatorConfig(base_url=url, merchants=(merchant,), retry_delays=(0.5,))
        return create_emulator_app(Emulator(config, keys=keys))  # system clock, background

    holder: dict[str, Services] = {}
    with Served(emulator_app) as emulator:
        client = TrustlyClient(
            username=USERNAME,
            password=PASSWORD,
            signer=signer,
            verifier=verifier,
            url=f"{emulator.url}/api/1",
            retries=0,
        )

        def merchant_app(url: str) -> FastAPI:
            settings = Settings(
                database_url=str(engine.url),
                trustly_api_url=f"{emulator.url}/api/1",
                trustly_username=USERNAME,
                trustly_private_key_file=key_file,
                notification_url=f"{url}/trustly/notifications",
                public_base_url=url,
                shopper_statement="fintrust Markets",
            )
            holder["services"] = Services(
                settings, engine, TrustlyGateway(client, signer, verifier)
            )
            return create_app(holder["services"])

        with Served(merchant_app) as shop, client, sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield World(shop.url, emulator.url, holder["services"], browser, customers)
            finally:
                browser.close()
    engine.dispose()


def _demo_customers(engine: Engine) -> dict[str, int]:
    def uow() -> SqlUnitOfWork:
        return SqlUnitOfWork(engine)

    people = [
        ("demo-asa", "Åsa", "Öberg", "SE", "en_SE", "SEK"),
        ("demo-mikko", "Mikko", "Virtanen", "FI", "en_FI", "EUR"),
        ("demo-lena", "Lena", "Schröder", "DE", "de_DE", "EUR"),
    ]
    return {
        first: register_customer(
            uow,
            end_user_id=end_user,
            firstname=first,
            lastname=last,
            country=country,
            locale=locale,
            currency=currency,
            email=f"{end_user}@example.com",
        )
        for end_user, first, last, country, locale, currency in people
    }


def shoot(page: Page, name: str) -> None:
    page.screenshot(path=SHOT.format(name), full_page=True)


def sign_in(page: Page, world: World, name: str) -> None:
    page.goto(f"{world.merchant_url}/")
    page.get_by_role("button", name=f"Sign in as {name}").click()
    expect(page.get_by_role("heading", name=f"Hello, {name.split(maxsplit=1)[0]}")).to_be_visible(
        timeout=WAIT
    )


def submit_deposit(page: Page, amount: str, currency: str) -> int:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Deposit").click()
    page.get_by_label(f"Amount ({currency})").fill(amount)
    page.get_by_role("button", name="Continue to your bank").click()
    page.wait_for_url(re.compile(r".*/deposit/\d+$"), timeout=WAIT)
    return int(page.url.rsplit("/", 1)[1])


def submit_withdrawal(page: Page, amount: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Withdraw").click()
    page.get_by_label(re.compile(r"^Amount")).fill(amount)
    page.get_by_role("button", name="Withdraw", exact=True).click()


# ------------------------------------------------------------------------------ tests


def test_deposit_through_the_iframe_then_withdraw(world: World) -> None:
    page = world.desktop()
    try:
        page.goto(f"{world.merchant_url}/")
        expect(page.get_by_role("heading", name="Sign in as a demo customer")).to_be_visible()
        shoot(page, "1-sign-in")
        sign_in(page, world, "Åsa Öberg")
        expect(page.get_by_test_id("balance")).to_have_text("0.00 SEK")
        shoot(page, "2-wallet-empty")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="Deposit").click()
        amount = page.get_by_label("Amount (SEK)")
        amount.fill("250.555")
        page.get_by_role("button", name="Continue to your bank").click()
        expect(page.get_by_role("alert")).to_have_text("SEK amounts have at most 2 decimals.")
        expect(amount).to_have_attribute("aria-invalid", "true")
        shoot(page, "3-deposit-amount-refused")
        amount.fill("250.5")
        page.get_by_role("button", name="Continue to your bank").click()
        page.wait_for_url(re.compile(r".*/deposit/\d+$"), timeout=WAIT)
        order_id = int(page.url.rsplit("/", 1)[1])

        frame = page.frame_locator("#trustly-checkout")
        expect(frame.get_by_text("Choose your bank")).to_be_visible(timeout=WAIT)
        shoot(page, "4-checkout-iframe")
        frame.get_by_role("radio", name="Swedbank").check()
        frame.get_by_role("button", name="Continue").click()
        frame.get_by_label("Personnummer").fill(PERSONNUMMER)
        frame.get_by_role("button", name="Log in").click()
        frame.get_by_role("radio", name="Savings account").check()
        frame.get_by_role("button", name="Continue").click()
        expect(frame.get_by_text("Pay 250.50 SEK to fintrust Markets")).to_be_visible(timeout=WAIT)
        shoot(page, "5-checkout-confirm")
        frame.get_by_role("button", name="Confirm").click()

        # URLTarget _top: the whole window goes to our SuccessURL; it proves nothing by itself,
        # and the page shows the balance only once the credit notification has arrived.
        page.wait_for_url(f"{world.merchant_url}/deposit/{order_id}/return", timeout=WAIT)
        expect(page.get_by_test_id("new-balance")).to_have_text("250.50 SEK", timeout=WAIT)
        expect(page.get_by_role("heading", name="Deposit received")).to_be_visible()
        shoot(page, "6-deposit-received")

        page.get_by_role("link", name="Go to your wallet").click()
        expect(page.get_by_test_id("balance")).to_have_text("250.50 SEK")
        row = page.locator(f'tr[data-order="{order_id}"]')
        expect(row).to_contain_text("Received")
        expect(row).to_contain_text("credit")
        shoot(page, "7-wallet-credited")

        submit_withdrawal(page, "1000")
        expect(page.get_by_test_id("refusal")).to_contain_text(
            "Only 250.50 SEK is available to withdraw."
        )
        shoot(page, "8-withdraw-refused")
        page.get_by_label("Amount (SEK)").fill("100")
        page.get_by_role("button", name="Withdraw", exact=True).click()
        expect(page.get_by_test_id("withdrawal-requested")).to_contain_text(
            "Withdrawal of 100.00 SEK requested"
        )
        expect(page.get_by_test_id("available")).to_have_text("150.50 SEK")
        expect(page.get_by_test_id("reserved")).to_have_text("100.00 SEK")
        payout = page.locator('tr[data-order]:has-text("Withdrawal")').first
        expect(payout).to_contain_text("Pending")
        expect(payout).to_contain_text("\u2212100.00 SEK")
        shoot(page, "9-withdrawal-pending")

        # SuccessURL proves nothing: a return page reached without paying says "processing".
        unpaid = submit_deposit(page, "75", "SEK")
        page.goto(f"{world.merchant_url}/deposit/{unpaid}/return")
        expect(page.get_by_role("heading", name="Processing your deposit")).to_be_visible()
        shoot(page, "10-deposit-processing")
    finally:
        page.context.close()


def test_small_screens_go_to_the_bank_pages_and_see_a_frozen_wallet(world: World) -> None:
    page = world.browser.new_context(viewport=PHONE).new_page()
    try:
        sign_in(page, world, "Mikko Virtanen")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Deposit").click()
        shoot(page, "11-phone-deposit-form")
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Deposit").click()
        page.get_by_label("Amount (EUR)").fill("80")
        page.get_by_role("button", name="Continue to your bank").click()
        # Small screen: the checkout gets the whole window instead of an iframe.
        page.wait_for_url(f"{world.emulator_url}/checkout?**", timeout=WAIT)
        order_id = world.last_order(world.customers["Mikko"])
        expect(page.get_by_text("Choose your bank")).to_be_visible(timeout=WAIT)
        shoot(page, "12-phone-bank-pages")

        # Trustly's test case D1, completed headlessly: a credit, then a debit 5 s later.
        world.control(f"orders/{world.trustly_order(order_id)}/complete", {"scenario": "D1"})
        page.goto(f"{world.merchant_url}/deposit/{order_id}/return")
        expect(page.get_by_test_id("new-balance")).to_have_text("80.00 EUR", timeout=WAIT)
        shoot(page, "13-phone-deposit-received")
        submit_withdrawal(page, "80")
        expect(page.get_by_test_id("withdrawal-requested")).to_be_visible()
        sent = outbox.drain_outbox(world.services.uow, world.services.trustly.client)
        assert set(sent) == {"done"}  # this payout (and any earlier test's) went out
        world.control("clock/advance", {"seconds": 60})  # delivers the debit and the payout

        page.goto(f"{world.merchant_url}/wallet")
        expect(page.get_by_test_id("frozen")).to_contain_text("Your EUR wallet is frozen")
        expect(page.get_by_test_id("balance")).to_have_text("\u221280.00 EUR")
        expect(page.locator(f'tr[data-order="{order_id}"]')).to_contain_text("Reversed")
        shoot(page, "14-phone-wallet-frozen")

        submit_withdrawal(page, "1")
        expect(page.get_by_test_id("refusal")).to_contain_text("frozen for withdrawals")
    finally:
        page.context.close()
