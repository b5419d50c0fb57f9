"""The checkout and fake bank pages, walked with form posts against the in-process emulator."""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI, Request, Response

from fintrust.trustly import (
    AsyncTrustlyClient,
    Notification,
    Signer,
    Verifier,
    build_notification_reply,
    generate_key_pair,
    parse_notification,
)
from trustly_emulator import Emulator, EmulatorKeys, MerchantConfig
from trustly_emulator._banks import BANKS, accounts_for
from trustly_emulator._scenarios import for_kind
from trustly_emulator._state import Order
from trustly_emulator.testing import in_process

pytestmark = pytest.mark.anyio

BASE = "http://emulator.test"
MERCHANT = "acme"
PASSWORD = "acme-api-password"
NOTIFY_URL = "http://merchant.test/notifications"
SUCCESS_URL = "https://shop.test/paid"
FAIL_URL = "https://shop.test/failed"
PERSONNUMMER = "19900101-1234"
SWEDBANK = BANKS["SE"][0]


@dataclass
class Env:
    emulator: Emulator
    client: AsyncTrustlyClient
    browser: httpx.AsyncClient
    received: list[Notification] = field(default_factory=list)

    async def order(
        self, method: str = "Deposit", *, end_user: str = "user-1", **attributes: Any
    ) -> tuple[Order, str]:
        """Create an order with the SDK; returns it and its checkout URL."""
        attrs: dict[str, Any] = {
            "Country": "SE",
            "Locale": "en_GB",
            "Firstname": "Åsa",
            "Lastname": "Öberg",
            "ShopperStatement": "Acme Shop",
            "SuccessURL": SUCCESS_URL,
            "FailURL": FAIL_URL,
        }
        data: dict[str, Any] = {
            "NotificationURL": NOTIFY_URL,
            "EndUserID": end_user,
            "MessageID": str(uuid.uuid4()),
        }
        if method == "Deposit":
            attrs.update(Currency="SEK", Amount="100.00")
        elif method == "Withdraw":
            data["Currency"] = "SEK"
        attrs.update(attributes)
        data["Attributes"] = {k: v for k, v in attrs.items() if v is not None}
        result = await self.client.call(method, data)
        return self.emulator.store.orders[result["orderid"]], result["url"]

    async def open(self, url: str) -> httpx.Response:
        return await self.browser.get(url)

    async def post(self, page: httpx.Response, step: str, /, **fields: str) -> httpx.Response:
        """Submit a form of ``page`` to ``/checkout/<action>`` with its signed state."""
        return await self.browser.post(
            f"/checkout/{step}", data={"state": state_of(page), **fields}
        )

    async def to_confirm(
        self, url: str, *, account_index: int = 0, **page_one: str
    ) -> httpx.Response:
        """Walk pages 1 to 3 (Swedbank, a valid personnummer) and return page 4."""
        start = await self.open(url)
        assert start.status_code == 200, start.text
        login = await self.post(start, "bank", bank=SWEDBANK.code, **page_one)
        assert login.status_code == 200, login.text
        accounts = await self.post(login, "login", identifier=PERSONNUMMER)
        assert accounts.status_code == 200, accounts.text
        number = accounts_for(SWEDBANK, PERSONNUMMER)[account_index][0]
        confirm = await self.post(accounts, "account", account=number)
        assert confirm.status_code == 200, confirm.text
        return confirm


def state_of(page: httpx.Response) -> str:
    match = re.search(r'name="state" value="([^"]+)"', page.text)
    assert match, f"no state field in:\n{page.text}"
    return match.group(1)


def text_of(page: httpx.Response) -> str:
    """The page's visible text, whitespace collapsed (for readable assertions)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page.text, flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", body).split()).replace("&#39;", "'")


def merchant_app(verifier: Verifier, signer: Signer, received: list[Notification]) -> FastAPI:
    app = FastAPI()

    @app.post("/notifications")
    async def notify(request: Request) -> Response:
        notification = parse_notification(await request.body(), verifier)
        received.append(notification)
        reply = build_notification_reply(notification.method, notification.uuid, signer)
        return Response(reply, media_type="application/json")

    return app


@pytest.fixture
async def env() -> AsyncIterator[Env]:
    private_pem, public_pem = generate_key_pair()
    signer = Signer.from_pem(private_pem)
    keys = EmulatorKeys.ephemeral()
    received: list[Notification] = []
    merchant = MerchantConfig(
        MERCHANT, PASSWORD, public_pem.decode("ascii"), frozenset({"account"})
    )
    emulator, app = in_process(
        merchant,
        keys=keys,
        merchant_app=merchant_app(Verifier.from_pem(keys.public_pem), signer, received),
    )
    client = AsyncTrustlyClient(
        username=MERCHANT,
        password=PASSWORD,
        signer=signer,
        verifier=Verifier.from_pem(keys.public_pem),
        url=f"{BASE}/api/1",
        transport=httpx.ASGITransport(app=app),
        retries=0,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as web:
        yield Env(emulator, client, web, received)
    await client.aclose()
    await emulator.aclose()


def methods(env: Env, order: Order) -> list[str]:
    return [n.method for n in env.emulator.store.notifications_of(order.order_id)]


# ------------------------------------------------------------------------------ the happy path


async def test_pages_complete_a_deposit_with_the_chosen_scenario(env: Env) -> None:
    order, url = await env.order()
    start = await env.open(url)
    page = text_of(start)
    assert start.status_code == 200
    assert "Choose your bank" in page
    assert "Acme Shop" in page
    assert "100.00 SEK" in page
    assert all(bank.name in page for bank in BANKS["SE"])
    assert 'lang="en"' in start.text
    # "Set order options": every Deposit scenario, D1 marked as Trustly's own test case.
    assert "Set order options" in page
    assert 'value="deposit-ok" checked' in start.text
    assert re.search(r"D1: Complete order.*?Trustly test case", page)
    assert "pending → account → credit → debit (+5s)" in page
    assert page.count("Emulator scenario") == len(for_kind("Deposit")) - 1

    login = await env.post(
        start, "bank", bank=SWEDBANK.code, options="1", scenario="deposit-ok-credit-pending-account"
    )
    page = text_of(login)
    assert "Log in to Swedbank" in page
    assert "Personnummer" in page
    assert "19900101-1234" in page  # the example
    assert "Test values" in page
    assert "0000" in page
    assert "9999" in page

    accounts = await env.post(login, "login", identifier=PERSONNUMMER)
    page = text_of(accounts)
    numbers = accounts_for(SWEDBANK, PERSONNUMMER)
    assert "Choose account" in page
    assert all(f"**{number[-4:]}" in page for number, _ in numbers)
    assert "Savings account" in page

    confirm = await env.post(accounts, "account", account=numbers[1][0])
    page = text_of(confirm)
    assert "Pay 100.00 SEK to Acme Shop" in page
    assert f"**{numbers[1][0][-4:]}" in page

    done = await env.post(confirm, "confirm")
    assert done.status_code == 303
    assert done.headers["location"] == SUCCESS_URL
    assert order.scenario == "deposit-ok-credit-pending-account"
    assert order.account_id is not None
    account = env.emulator.store.accounts[order.account_id]
    assert (account.bank, account.account_number) == ("Swedbank", numbers[1][0])
    assert account.holder == "Åsa Öberg"
    assert methods(env, order) == ["credit", "pending", "account"]

    # The end user comes back: nothing more to do.
    again = await env.open(url)
    assert again.status_code == 200
    assert "This payment is already finished" in text_of(again)
    replay = await env.post(confirm, "confirm")
    assert replay.status_code == 409
    assert len(methods(env, order)) == 3


async def test_without_order_options_the_default_scenario_runs(env: Env) -> None:
    order, url = await env.order()
    confirm = await env.to_confirm(url, scenario="D1")  # no options=1: the choice is ignored
    await env.post(confirm, "confirm")
    assert order.scenario == "deposit-ok"
    assert methods(env, order) == ["pending", "account", "credit"]


async def test_trustly_test_case_d1_is_scheduled(env: Env) -> None:
    order, url = await env.order()
    confirm = await env.to_confirm(url, options="1", scenario="D1")
    await env.post(confirm, "confirm")
    assert order.scenario == "D1"
    records = env.emulator.store.notifications_of(order.order_id)
    assert [r.method for r in records] == ["pending", "account", "credit", "debit"]
    assert records[3].due_at - records[2].due_at == 5


async def test_notifications_are_delivered_when_the_clock_moves(env: Env) -> None:
    order, url = await env.order()
    await env.post(await env.to_confirm(url), "confirm")
    await env.emulator.advance(1)
    assert [n.method for n in env.received] == ["pending", "account", "credit"]
    assert order.state == "credited"


async def test_amount_field_within_the_suggested_bounds(env: Env) -> None:
    order, url = await env.order(
        Amount=None, SuggestedMinAmount="10.00", SuggestedMaxAmount="500.00"
    )
    start = await env.open(url)
    assert 'name="amount"' in start.text
    assert "Between 10.00 SEK and 500.00 SEK" in text_of(start)
    assert 'value="10.00"' in start.text

    too_low = await env.post(start, "bank", bank=SWEDBANK.code, amount="5.00")
    assert too_low.status_code == 422
    assert "Enter an amount in the allowed range." in text_of(too_low)
    assert 'value="5.00"' in too_low.text  # kept as typed
    bad = await env.post(start, "bank", bank=SWEDBANK.code, amount="12.345")
    assert "Enter an amount with at most two decimals." in text_of(bad)

    confirm = await env.to_confirm(url, amount="250,50")  # a decimal comma is fine
    assert "Pay 250.50 SEK to Acme Shop" in text_of(confirm)
    await env.post(confirm, "confirm")
    assert order.amount == Decimal("250.50")


async def test_bank_must_be_chosen(env: Env) -> None:
    _, url = await env.order()
    start = await env.open(url)
    missing = await env.post(start, "bank")
    assert missing.status_code == 422
    assert "Choose a bank to continue." in text_of(missing)
    unknown = await env.post(start, "bank", bank="se-no-such-bank")
    assert unknown.status_code == 422


async def test_changing_country_lists_its_banks_and_login_format(env: Env) -> None:
    _, url = await env.order()
    start = await env.open(url)
    finnish = await env.post(start, "bank", action="country", country="FI", options="1")
    page = text_of(finnish)
    assert finnish.status_code == 200
    assert "OP Financial Group" in page
    assert "Swedbank" not in page
    assert '<option value="FI" selected>' in finnish.text
    assert 'id="options" name="options" value="1" class="options-check" checked' in finnish.text
    login = await env.post(finnish, "bank", bank=BANKS["FI"][1].code)
    assert "Henkilötunnus" in text_of(login)
    assert "010190-123A" in text_of(login)
    # The GET form of the same: ?Country=NO
    norway = await env.open(f"{url}&Country=NO")
    assert "SpareBank 1" in text_of(norway)


async def test_withdraw_asks_the_amount_and_runs_its_scenario(env: Env) -> None:
    order, url = await env.order("Withdraw", SuggestedMinAmount="20.00")
    start = await env.open(url)
    assert "Withdrawal" in text_of(start)
    assert "withdraw-denied" in start.text
    assert "D1" not in start.text
    confirm = await env.to_confirm(url, amount="75.00")
    assert "Receive 75.00 SEK from Acme Shop" in text_of(confirm)
    await env.post(confirm, "confirm")
    assert order.amount == Decimal("75.00")
    assert order.scenario == "withdraw-ok"
    assert methods(env, order) == ["debit"]


async def test_select_account_needs_no_amount(env: Env) -> None:
    order, url = await env.order("SelectAccount")
    start = await env.open(url)
    assert 'name="amount"' not in start.text
    confirm = await env.to_confirm(url, account_index=2)
    assert "Use this account with Acme Shop" in text_of(confirm)
    await env.post(confirm, "confirm")
    assert order.scenario == "select-account-ok"
    assert methods(env, order) == ["account"]
    assert (
        env.emulator.store.accounts[order.account_id or ""].account_number
        == (accounts_for(SWEDBANK, PERSONNUMMER)[2][0])
    )


# ------------------------------------------------------------------------------ leaving


async def test_close_button_cancels_at_once_and_goes_to_fail_url(env: Env) -> None:
    order, url = await env.order()
    start = await env.open(url)
    assert 'data-testid="close"' in start.text
    login = await env.post(start, "bank", bank=SWEDBANK.code)
    assert 'data-testid="close"' in login.text  # on every page
    closed = await env.post(login, "cancel")
    assert closed.status_code == 303
    assert closed.headers["location"] == FAIL_URL
    assert order.state == "cancelling"
    assert methods(env, order) == ["cancel"]
    assert env.emulator.store.notifications_of(order.order_id)[0].due_at == (
        env.emulator.clock.now()
    )
    again = await env.open(url)
    assert "This payment is cancelled" in text_of(again)


async def test_no_close_button_without_fail_url(env: Env) -> None:
    order, url = await env.order(FailURL=None)
    start = await env.open(url)
    assert 'data-testid="close"' not in start.text
    forced = await env.post(start, "cancel")
    assert forced.status_code == 400
    assert order.state == "created"
    assert methods(env, order) == []


async def test_login_ending_0000_is_refused_and_can_be_retried(env: Env) -> None:
    order, url = await env.order()
    login = await env.post(await env.open(url), "bank", bank=SWEDBANK.code)
    refused = await env.post(login, "login", identifier="19900101-0000")
    assert refused.status_code == 422
    assert "The bank did not accept this login. Try again." in text_of(refused)
    assert 'value="19900101-0000"' in refused.text
    assert order.state == "created"
    accounts = await env.post(refused, "login", identifier=PERSONNUMMER)
    assert "Choose account" in text_of(accounts)


async def test_login_in_the_wrong_format_explains_the_format(env: Env) -> None:
    _, url = await env.order()
    login = await env.post(await env.open(url), "bank", bank=SWEDBANK.code)
    wrong = await env.post(login, "login", identifier="abc")
    assert wrong.status_code == 422
    assert "Enter a Personnummer like 19900101-1234." in text_of(wrong)


async def test_login_ending_9999_times_out_and_cancels_to_fail_url(env: Env) -> None:
    order, url = await env.order()
    login = await env.post(await env.open(url), "bank", bank=SWEDBANK.code)
    timed_out = await env.post(login, "login", identifier="19900101-9999")
    assert timed_out.status_code == 303
    assert timed_out.headers["location"] == FAIL_URL
    assert order.state == "cancelling"
    assert methods(env, order) == ["cancel"]


async def test_login_ending_9999_without_fail_url_shows_a_cancelled_page(env: Env) -> None:
    order, url = await env.order(FailURL=None)
    login = await env.post(await env.open(url), "bank", bank=SWEDBANK.code)
    timed_out = await env.post(login, "login", identifier="19900101-9999")
    assert timed_out.status_code == 200
    page = text_of(timed_out)
    assert "The bank did not answer in time" in page
    assert "The payment was cancelled." in page
    assert methods(env, order) == ["cancel"]


async def test_url_target_top_breaks_out_of_the_frame(env: Env) -> None:
    order, url = await env.order(URLTarget="_top")
    done = await env.post(await env.to_confirm(url), "confirm")
    assert done.status_code == 200
    assert "window.top.location.href = url;" in done.text
    assert f'var url = "{SUCCESS_URL}";' in done.text
    assert f'href="{SUCCESS_URL}" target="_top"' in done.text  # the fallback link
    assert order.scenario == "deposit-ok"


async def test_url_target_parent_and_fail_url(env: Env) -> None:
    _, url = await env.order(URLTarget="_parent")
    closed = await env.post(await env.open(url), "cancel")
    assert closed.status_code == 200
    assert "window.parent.location.href = url;" in closed.text
    assert f'href="{FAIL_URL}" target="_parent"' in closed.text


async def test_url_target_self_redirects(env: Env) -> None:
    _, url = await env.order(URLTarget="_self")
    done = await env.post(await env.to_confirm(url), "confirm")
    assert done.status_code == 303
    assert done.headers["location"] == SUCCESS_URL


async def test_without_success_url_a_done_page(env: Env) -> None:
    order, url = await env.order(SuccessURL=None)
    done = await env.post(await env.to_confirm(url), "confirm")
    assert done.status_code == 200
    assert "Done" in text_of(done)
    assert "You can close this window." in text_of(done)
    assert order.scenario == "deposit-ok"


# ------------------------------------------------------------------------------ Trustly Express


async def test_express_preselects_the_last_account(env: Env) -> None:
    first, url = await env.order(end_user="returning")
    await env.post(await env.to_confirm(url, account_index=1), "confirm")
    await env.emulator.advance(1)  # the account notification happens
    assert first.account_id is not None
    account = env.emulator.store.accounts[first.account_id]

    second, url = await env.order(end_user="returning", AccountID=first.account_id)
    express = await env.open(url)
    page = text_of(express)
    assert f"Pay from Swedbank **{account.account_number[-4:]}" in page
    assert "Use another account" in page
    assert "Choose your bank" not in page
    done = await env.post(express, "express", options="1", scenario="D1")
    assert done.status_code == 303
    assert done.headers["location"] == SUCCESS_URL
    assert second.account_id == first.account_id
    assert second.scenario == "D1"
    assert methods(env, second) == ["pending", "account", "credit", "debit"]


async def test_express_use_another_account(env: Env) -> None:
    first, url = await env.order(end_user="returning")
    await env.post(await env.to_confirm(url), "confirm")
    await env.emulator.advance(1)
    second, url = await env.order(end_user="returning", AccountID=first.account_id)
    express = await env.open(url)
    link = re.search(r'href="([^"]*Choose=1[^"]*)"', express.text)
    assert link
    other = await env.open(link.group(1).replace("&amp;", "&"))
    assert "Choose your bank" in text_of(other)
    confirm = await env.to_confirm(link.group(1).replace("&amp;", "&"), account_index=2)
    await env.post(confirm, "confirm")
    assert second.account_id != first.account_id


async def test_express_only_for_the_same_end_users_last_account(env: Env) -> None:
    first, url = await env.order(end_user="returning")
    await env.post(await env.to_confirm(url), "confirm")
    await env.emulator.advance(1)
    _, other_user = await env.order(end_user="someone-else", AccountID=first.account_id)
    assert "Choose your bank" in text_of(await env.open(other_user))
    _, unknown = await env.order(end_user="returning", AccountID="1234567890")
    assert "Choose your bank" in text_of(await env.open(unknown))


# ------------------------------------------------------------------------------ refusals


async def test_wrong_session_or_order_is_not_found(env: Env) -> None:
    order, url = await env.order()
    wrong = url.replace(order.session_id, str(uuid.uuid4()))
    for bad in (wrong, "/checkout?OrderID=123&SessionID=x", "/checkout"):
        page = await env.open(bad)
        assert page.status_code == 404
        assert "Payment not found" in text_of(page)
    assert order.state == "created"


def _forge(token: str, **changes: str) -> str:
    """Change the signed state but keep its MAC: what a tampering end user can do."""
    body, _, mac = token.partition(".")
    state = json.loads(base64.urlsafe_b64decode(body))
    state.update(changes)
    forged = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
    return f"{forged}.{mac}"


async def test_tampered_state_is_refused(env: Env) -> None:
    order, url = await env.order()
    confirm = await env.to_confirm(url)
    token = state_of(confirm)
    for bad in (
        _forge(token, sc="D1"),
        _forge(token, a="1111111111"),
        token[:-1] + ("0" if token[-1] != "0" else "1"),
        "garbage",
        "",
    ):
        refused = await env.browser.post("/checkout/confirm", data={"state": bad})
        assert refused.status_code == 400, bad
        assert "This page cannot be used" in text_of(refused)
    assert order.state == "created"
    assert methods(env, order) == []


async def test_choices_not_belonging_to_the_order_or_login_are_refused(env: Env) -> None:
    order, url = await env.order()
    start = await env.open(url)
    wrong_kind = await env.post(
        start, "bank", bank=SWEDBANK.code, options="1", scenario="withdraw-ok"
    )
    assert wrong_kind.status_code == 422
    assert "Choose one of the listed test cases." in text_of(wrong_kind)

    login = await env.post(start, "bank", bank=SWEDBANK.code)
    accounts = await env.post(login, "login", identifier=PERSONNUMMER)
    someone_elses = accounts_for(SWEDBANK, "19800101-1234")[0][0]
    refused = await env.post(accounts, "account", account=someone_elses)
    assert refused.status_code == 422
    assert "Choose an account to continue." in text_of(refused)
    # A page-2 token cannot skip the login.
    skipped = await env.post(login, "account", account=someone_elses)
    assert skipped.status_code == 400
    # Another order's token does not open this one.
    _, other_url = await env.order()
    other = await env.open(other_url)
    assert parse_qs(urlsplit(other_url).query)["OrderID"] != [order.order_id]
    express = await env.post(other, "express")
    assert express.status_code == 400
    assert order.state == "created"


# ------------------------------------------------------------------------------ language


async def test_swedish_pages_for_sv_se(env: Env) -> None:
    _, url = await env.order(Locale="sv_SE")
    start = await env.open(url)
    page = text_of(start)
    assert '<html lang="sv">' in start.text
    assert "Välj din bank" in page
    assert "Ställ in orderalternativ" in page
    assert "Trustlys testfall" in page
    assert "100,00 SEK" in page
    login = await env.post(start, "bank", bank=SWEDBANK.code)
    page = text_of(login)
    assert "Logga in på Swedbank" in page
    assert "Testvärden" in page
    refused = await env.post(login, "login", identifier="19900101-0000")
    assert "Banken godtog inte inloggningen. Försök igen." in text_of(refused)
    accounts = await env.post(refused, "login", identifier=PERSONNUMMER)
    assert "Lönekonto" in text_of(accounts)


async def test_plain_sv_locale_and_unknown_locales(env: Env) -> None:
    _, url = await env.order(Locale="sv")
    assert "Välj din bank" in text_of(await env.open(url))
    _, url = await env.order(Locale="de_DE")
    page = await env.open(url)
    assert '<html lang="en">' in page.text
    assert "Choose your bank" in text_of(page)
