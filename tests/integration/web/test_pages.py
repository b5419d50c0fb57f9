"""The customer pages, in-process, against the real emulator (tests/e2e/harness.py): sign-in,
CSRF, the deposit checkout and its return page, withdrawals, the wallet's history."""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from fintrust.services import outbox
from fintrust.web.sessions import COOKIE_NAME
from tests.e2e.harness import World, http

pytestmark = pytest.mark.anyio

BASE = "http://127.0.0.1:8000"  # Settings.public_base_url in the harness
MINUS = "\u2212"  # amounts are shown with a true minus sign


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with http(world.app) as browser:
        yield browser


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no CSRF token"
    return found[1]


async def sign_in(client: httpx.AsyncClient, customer_id: int) -> httpx.Response:
    start = await client.get("/")
    answer = await client.post(
        "/sign-in", data={"customer_id": str(customer_id), "csrf_token": csrf_of(start)}
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/wallet"
    return await client.get("/wallet")


async def deposit(client: httpx.AsyncClient, amount: str, currency: str = "EUR") -> int:
    """Submit the deposit form; returns our order id (from the redirect to its checkout)."""
    form = await client.get("/deposit")
    answer = await client.post(
        "/deposit", data={"amount": amount, "currency": currency, "csrf_token": csrf_of(form)}
    )
    assert answer.status_code == 303, answer.text
    found = re.fullmatch(r"/deposit/(\d+)", answer.headers["location"])
    assert found
    return int(found[1])


async def withdraw(client: httpx.AsyncClient, amount: str) -> httpx.Response:
    form = await client.get("/withdraw")
    return await client.post(
        "/withdraw", data={"amount": amount, "currency": "EUR", "csrf_token": csrf_of(form)}
    )


def trustly_order(world: World, order_id: int) -> str:
    with world.uow() as work:
        order = work.orders.get(order_id)
        assert order is not None
        return str(order.trustly_order_id)


def text_of(page: httpx.Response | str) -> str:
    """The visible words, roughly: hidden parts and tags out, entities decoded, spaces
    collapsed."""
    markup = page if isinstance(page, str) else page.text
    visible = re.sub(r"<div[^>]*\shidden>.*?</div>", " ", markup, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", visible)).split())


def history_row(page: httpx.Response, order_id: int) -> str:
    """The words of one order's row in the wallet's history."""
    found = re.search(rf'<tr data-order="{order_id}".*?</tr>', page.text, flags=re.S)
    assert found, f"order {order_id} is not in the history"
    return text_of(found[0])


# ------------------------------------------------------------------------------ sign in


async def test_sign_in_lists_the_customers_and_opens_a_wallet(
    world: World, client: httpx.AsyncClient
) -> None:
    first = world.customer("cust-1")
    world.customer("cust-2", currency="SEK")
    start = await client.get("/")
    assert start.status_code == 200
    assert start.text.count("<strong>Åsa Öberg</strong>") == 2
    assert "0.00 SEK" in text_of(start)
    cookie = start.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "frame-ancestors 'none'" in start.headers["content-security-policy"]
    assert start.headers["x-frame-options"] == "DENY"

    wallet = await sign_in(client, first)
    assert wallet.status_code == 200
    words = text_of(wallet)
    assert "Hello, Åsa" in words
    assert "Balance 0.00 EUR" in words
    assert "No deposits or withdrawals yet." in words
    # Signed in, the sign-in page sends you to your wallet; signing out ends the session.
    assert (await client.get("/")).headers["location"] == "/wallet"
    out = await client.post("/sign-out", data={"csrf_token": csrf_of(wallet)})
    assert (out.status_code, out.headers["location"]) == (303, "/")
    assert (await client.get("/wallet")).headers["location"] == "/"


async def test_pages_ask_for_a_session_and_ignore_forged_cookies(
    world: World, client: httpx.AsyncClient
) -> None:
    customer = world.customer()
    for path in ("/wallet", "/deposit", "/withdraw", "/deposit/1", "/deposit/1/return"):
        answer = await client.get(path)
        assert (answer.status_code, answer.headers["location"]) == (303, "/"), path
    assert (await client.get("/deposit/1/status")).status_code == 401

    await sign_in(client, customer)
    cookie = client.cookies[COOKIE_NAME]
    payload, mac = cookie.split(".")
    forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    client.cookies.set(COOKIE_NAME, f"{forged}.{mac}", domain="merchant.test")
    assert (await client.get("/wallet")).headers["location"] == "/"
    client.cookies.set(COOKIE_NAME, "not-a-session", domain="merchant.test")
    assert (await client.get("/wallet")).headers["location"] == "/"


async def test_other_customers_deposits_are_not_found(world: World) -> None:
    alice, bob = world.customer("alice"), world.customer("bob")
    async with http(world.app) as alice_browser, http(world.app) as bob_browser:
        await sign_in(alice_browser, alice)
        await sign_in(bob_browser, bob)
        order_id = await deposit(alice_browser, "10.00")
        for path in (f"/deposit/{order_id}", f"/deposit/{order_id}/return"):
            assert (await bob_browser.get(path)).status_code == 404
        assert (await bob_browser.get(f"/deposit/{order_id}/status")).status_code == 404
        assert (await alice_browser.get(f"/deposit/{order_id}/status")).status_code == 200


async def test_ids_out_of_range_are_not_found_rather_than_errors(
    world: World, client: httpx.AsyncClient
) -> None:
    # PostgreSQL refuses to compare a number beyond its INTEGER ids: these were 500s there.
    customer = world.customer()
    start = await client.get("/")
    for typed in ("2147483648", "99999999999999999999", "\u00b2", "-1"):
        answer = await client.post(
            "/sign-in", data={"customer_id": typed, "csrf_token": csrf_of(start)}
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/"), typed
    await sign_in(client, customer)
    for path in ("/deposit/2147483648", "/deposit/2147483648/return", "/deposit/0/status"):
        assert (await client.get(path)).status_code == 404, path


async def test_demo_sign_in_is_off_against_live_trustly(world: World) -> None:
    customer = world.customer()
    live = world.services.settings.model_copy(update={"trustly_environment": "live"})
    world.app.state.services = replace(world.services, settings=live)
    async with http(world.app) as client:
        page = await client.get("/")
        assert page.status_code == 404
        assert "Åsa" not in page.text
        answer = await client.post(
            "/sign-in", data={"customer_id": str(customer), "csrf_token": "any"}
        )
        assert answer.status_code == 404  # before even looking at the token
        assert (await client.get("/wallet")).headers["location"] == "/"


# ------------------------------------------------------------------------------ CSRF


async def test_posts_without_the_sessions_csrf_token_are_refused(
    world: World, client: httpx.AsyncClient
) -> None:
    customer = world.customer()
    start = await client.get("/")
    before_sign_in = csrf_of(start)

    # Sign-in: no token, a wrong token, another visitor's token.
    for token in ("", "x" * 43):
        refused = await client.post(
            "/sign-in", data={"customer_id": str(customer), "csrf_token": token}
        )
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    async with http(world.app) as other:
        others_token = csrf_of(await other.get("/"))
    refused = await client.post(
        "/sign-in", data={"customer_id": str(customer), "csrf_token": others_token}
    )
    assert refused.status_code == 403
    # A fresh visitor (no cookie yet) cannot have been given any token.
    async with http(world.app) as stranger:
        refused = await stranger.post(
            "/sign-in", data={"customer_id": str(customer), "csrf_token": before_sign_in}
        )
        assert refused.status_code == 403
    assert (await client.get("/wallet")).headers["location"] == "/"

    # Signed in, the token is new: the one from before signing in no longer works.
    wallet = await sign_in(client, customer)
    assert csrf_of(wallet) != before_sign_in
    for path, data in (
        ("/deposit", {"amount": "10.00", "currency": "EUR"}),
        ("/withdraw", {"amount": "1.00", "currency": "EUR"}),
        ("/sign-out", {}),
    ):
        for token in ("", before_sign_in, others_token):
            refused = await client.post(path, data={**data, "csrf_token": token})
            assert refused.status_code == 403, (path, token)
    with world.uow() as work:
        assert work.orders.of_customer(customer) == []
        assert work.outbox.counts() == {}
    assert (await client.get("/wallet")).status_code == 200  # still signed in


# ------------------------------------------------------------------------------ deposit


async def test_the_deposit_page_frames_trustlys_checkout(
    world: World, client: httpx.AsyncClient
) -> None:
    customer = world.customer()
    await sign_in(client, customer)
    order_id = await deposit(client, "100.50")
    with world.uow() as work:
        order = work.orders.get(order_id)
        assert order is not None
        [call] = work.outbox.of_order(order_id)
    assert order.state == "started"  # the Deposit was sent at once
    assert call.status == "done"
    attributes = json.loads(call.data)["Attributes"]
    assert attributes["SuccessURL"] == f"{BASE}/deposit/{order_id}/return"
    assert attributes["FailURL"] == f"{BASE}/deposit/{order_id}/failed"
    assert attributes["URLTarget"] == "_top"
    assert attributes["Amount"] == "100.50"
    url = order.checkout_url
    assert url.startswith("http://emulator.test/")
    assert world.emulator.store.orders[order.trustly_order_id].method == "Deposit"

    page = await client.get(f"/deposit/{order_id}")
    assert page.status_code == 200
    frame = re.search(r'<iframe id="trustly-checkout"[^>]*>', page.text)
    assert frame is not None
    assert f'data-checkout-url="{html.escape(url)}"' in frame[0]
    assert f'<noscript><iframe title="Trustly: pay from your bank" src="{html.escape(url)}"' in (
        page.text
    )
    assert f'href="{html.escape(url)}"' in page.text  # the "continue to your bank" link
    assert "frame-src http://emulator.test;" in page.headers["content-security-policy"]
    assert "Pay 100.50 EUR from your bank" in text_of(page)


async def test_the_return_page_says_processing_until_the_credit_arrives(
    world: World, client: httpx.AsyncClient
) -> None:
    customer = world.customer()
    await sign_in(client, customer)
    order_id = await deposit(client, "100.50")
    status = (await client.get(f"/deposit/{order_id}/status")).json()
    assert status["status"] == "processing"
    assert (status["amount"], status["currency"], status["balance"]) == ("100.50", "EUR", "0.00")

    returned = await client.get(f"/deposit/{order_id}/return")  # SuccessURL proves nothing
    assert "Processing your deposit" in text_of(returned)
    assert "Deposit received" not in text_of(returned)
    assert world.balance(customer) == 0

    await world.complete(trustly_order(world, order_id))
    status = (await client.get(f"/deposit/{order_id}/status")).json()
    assert status["status"] == "credited"
    assert (status["credited"], status["balance"], status["balance_text"]) == (
        "100.50",
        "100.50",
        "100.50 EUR",
    )
    returned = await client.get(f"/deposit/{order_id}/return")
    assert "Deposit received" in text_of(returned)
    assert "New balance 100.50 EUR" in text_of(returned)
    # The checkout page of a finished deposit goes to its outcome.
    finished = await client.get(f"/deposit/{order_id}")
    assert finished.headers["location"] == f"/deposit/{order_id}/return"

    wallet = text_of(await client.get("/wallet"))
    assert "Balance 100.50 EUR" in wallet
    assert "Received" in wallet
    for event in ("pending", "account", "credit"):
        assert event in wallet
    assert "Withdrawals are paid to" in wallet


async def test_a_cancelled_checkout_shows_the_fail_page_and_cancelled_status(
    world: World, client: httpx.AsyncClient
) -> None:
    customer = world.customer()
    await sign_in(client, customer)
    order_id = await deposit(client, "20.00")
    failed = await client.get(f"/deposit/{order_id}/failed")
    assert "Deposit not completed" in text_of(failed)
    await world.complete(trustly_order(world, order_id), "deposit-pending-then-cancel")
    await world.emulator.advance(3600)
    assert (await client.get(f"/deposit/{order_id}/status")).json()["status"] == "cancelled"
    assert "Deposit cancelled" in text_of(await client.get(f"/deposit/{order_id}/return"))


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter an amount."),
        ("abc", "Enter the amount in digits"),
        ("10.005", "EUR amounts have at most 2 decimals."),
        ("1,000", "Enter the amount in digits"),
        ("1e3", "Enter the amount in digits"),
        ("-5", "Enter the amount in digits"),
        ("0.00", "Enter an amount greater than zero."),
        ("1000000000", "That amount is too large."),
    ],
)
async def test_deposit_amounts_are_exact_decimals(
    world: World, client: httpx.AsyncClient, amount: str, message: str
) -> None:
    customer = world.customer()
    await sign_in(client, customer)
    form = await client.get("/deposit")
    answer = await client.post(
        "/deposit", data={"amount": amount, "currency": "EUR", "csrf_token": csrf_of(form)}
    )
    assert answer.status_code == 400
    assert message in html.unescape(answer.text)
    assert 'aria-invalid="true"' in answer.text
    other = await client.post(
        "/deposit", data={"amount": "10", "currency": "SEK", "csrf_token": csrf_of(form)}
    )
    assert "Choose one of your wallets." in other.text
    with world.uow() as work:
        assert work.orders.of_customer(customer) == []


# ------------------------------------------------------------------------------ withdraw


async def test_withdrawals_are_refused_clearly_then_shown_pending(
    world: World, client: httpx.AsyncClient
) -> None:
    customer = world.customer()
    await sign_in(client, customer)
    refused = await withdraw(client, "10.00")
    assert refused.status_code == 400
    assert "No verified bank account yet" in text_of(refused)

    await world.complete(trustly_order(world, await deposit(client, "100.00")))
    refused = await withdraw(client, "150.00")
    assert refused.status_code == 400
    assert "Only 100.00 EUR is available to withdraw." in text_of(refused)
    refused = await withdraw(client, "1.001")
    assert "EUR amounts have at most 2 decimals." in text_of(refused)

    done = await withdraw(client, "40.00")
    assert done.status_code == 303
    found = re.fullmatch(r"/wallet\?withdrawal=(\d+)", done.headers["location"])
    assert found
    payout = int(found[1])
    page = await client.get(done.headers["location"])
    wallet = text_of(page)
    assert "Withdrawal of 40.00 EUR requested" in wallet
    assert "Balance 100.00 EUR" in wallet
    assert "Available to withdraw 60.00 EUR" in wallet
    assert "Pending withdrawals 40.00 EUR" in wallet
    row = history_row(page, payout)
    assert f"Withdrawal #{payout} Pending None yet {MINUS}40.00 EUR" in row
    assert world.available(customer) == 60

    # The worker sends it; it stays pending until the bank confirms.
    assert outbox.drain_outbox(world.uow, world.services.trustly.client) == {"done": 1}
    assert "Pending" in history_row(await client.get("/wallet"), payout)
    await world.emulator.advance(60)
    page = await client.get("/wallet")
    row = history_row(page, payout)
    assert "Paid out" in row
    assert "Sent to your bank payoutconfirmation" in row
    assert row.endswith(f"{MINUS}40.00 EUR")
    assert "Balance 60.00 EUR" in text_of(page)


async def test_a_wallet_below_zero_is_shown_frozen(world: World, client: httpx.AsyncClient) -> None:
    customer = world.customer()
    await sign_in(client, customer)
    # Trustly's test case D1: the credit is debited back 5 s later, after the money was paid out.
    await world.complete(trustly_order(world, await deposit(client, "50.00")), "D1")
    assert (await withdraw(client, "50.00")).status_code == 303
    outbox.drain_outbox(world.uow, world.services.trustly.client)
    await world.emulator.advance(60)
    assert world.balance(customer) == -50

    wallet = await client.get("/wallet")
    assert 'data-testid="frozen"' in wallet.text
    words = text_of(wallet)
    assert "Your EUR wallet is frozen" in words
    assert f"Balance {MINUS}50.00 EUR" in words
    assert "Reversed by the bank" in words
    assert "debit" in words
    refused = await withdraw(client, "1.00")
    assert refused.status_code == 400
    assert "The wallet is below zero and frozen for withdrawals." in text_of(refused)
