"""The checkout and fake bank pages an end user sees at an order's ``url``.

Deposit, SelectAccount and Withdraw answer a ``url``: ``/checkout?OrderID=..&SessionID=..``. It
walks the end user through four pages: choose a bank (and, in "Set order options", a test case),
log in, choose an account, confirm. Confirming runs the chosen scenario; the "x" button (shown
only when the order has a FailURL) cancels at once. A returning end user's Deposit that carries
the AccountID of their last deposit (Trustly Express) is one "Confirm" away.

What a page needs to know from the pages before it travels in one hidden ``state`` field, signed
with an HMAC under a random secret of this app (``_checkout_state``): nothing the browser sends is
believed unless it is signed, and each choice is checked again against the order and the bank
login it belongs to. The order as the pages see it is in ``_checkout_views``, the pages in
``_checkout_pages``, their words in ``_checkout_texts``.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from trustly_emulator._banks import BANKS, Bank, accounts_for, check_login
from trustly_emulator._checkout_pages import Pages
from trustly_emulator._checkout_state import app_secret, order_state, read_state
from trustly_emulator._checkout_texts import Texts, language
from trustly_emulator._checkout_views import (
    Choices,
    OrderView,
    login_format,
    order_attribute,
    parse_decimal,
)
from trustly_emulator._emulator import Emulator
from trustly_emulator._state import BankAccount, Order

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_CHECKOUT_KINDS: Final = frozenset({"Deposit", "SelectAccount", "Withdraw"})
_LOCALE = re.compile(r"\A[a-z]{2}(_[A-Z]{2})?\Z")


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def _find_order(emulator: Emulator, order_id: str, session_id: str) -> Order | None:
    order = emulator.store.order(order_id) if order_id else None
    if order is None or order.method not in _CHECKOUT_KINDS or not order.session_id:
        return None
    if not hmac.compare_digest(order.session_id.encode(), session_id.encode()):
        return None
    return order


def _bank(code: str) -> Bank | None:
    return next((bank for banks in BANKS.values() for bank in banks if bank.code == code), None)


def _has_account(bank: Bank, identifier: str, number: str) -> bool:
    return any(n == number for n, _ in accounts_for(bank, identifier))


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


@dataclass(frozen=True)
class _Step:
    """A posted page: its verified state, its order (open), its form and its pages."""

    emulator: Emulator
    view: OrderView
    state: dict[str, str]
    form: FormData
    pages: Pages

    @property
    def order(self) -> Order:
        return self.view.order

    @property
    def t(self) -> Texts:
        return self.pages.t

    @property
    def locale(self) -> str:
        return self.state.get("l", "")

    @property
    def bank(self) -> Bank | None:
        return _bank(self.state.get("b", ""))

    def field(self, name: str) -> str:
        return _field(self.form, name)

    def finish(self, account: BankAccount, scenario_id: str, amount: Decimal | None) -> None:
        self.emulator.complete_checkout(
            self.order, scenario_id=scenario_id, account=account, amount=amount
        )
        self.emulator.dispatcher.wake()  # a served emulator's delivery loop sends them; never wait

    def cancel(self, reason: str) -> None:
        self.emulator.cancel_order(self.order, reason)
        self.emulator.dispatcher.wake()


async def _posted(request: Request) -> _Step | Response:
    form = await request.form()
    state = read_state(app_secret(request), _field(form, "state"))
    if state is None or "o" not in state or "s" not in state:
        return Pages(request, Texts("en")).expired()
    pages = Pages(request, Texts(language(state.get("l"))))
    emulator = _emulator(request)
    order = _find_order(emulator, state["o"], state["s"])
    if order is None:
        return pages.message("not_found", status=404)
    if order.state != "created":
        return pages.closed(order, status=409)
    emulator.touch(order)  # abandonment counts from the end user's last step
    return _Step(emulator, OrderView.of(order), state, form, pages)


def _posted_page(path: str) -> Callable[[Callable[[_Step], Response]], Callable[[_Step], Response]]:
    """Route a page's form to ``path``: its handler sees only a form whose state verified, for an
    open order; any other answers the page ``_posted`` chose (expired, not found, closed)."""

    def register(handle: Callable[[_Step], Response]) -> Callable[[_Step], Response]:
        async def endpoint(request: Request) -> Response:
            step = await _posted(request)
            return step if isinstance(step, Response) else handle(step)

        router.add_api_route(path, endpoint, methods=["POST"], name=handle.__name__)
        return handle

    return register


def _chosen_scenario(step: _Step) -> tuple[str, bool, str | None]:
    """The scenario picked in "Set order options" (the default when they are off)."""
    options = step.field("options") == "1"
    picked = step.field("scenario")
    if not options:
        return step.view.default_scenario_id(), False, None
    if not step.view.offers_scenario(picked):
        return step.view.default_scenario_id(), True, "scenario_invalid"
    return picked, True, None


def _page_one_input(step: _Step) -> tuple[Choices, Decimal | None, dict[str, str]]:
    """Page 1's fields (the express page's too): as entered, the amount, and the errors."""
    scenario_id, options, scenario_error = _chosen_scenario(step)
    amount_text = step.field("amount")
    choices = Choices(
        country=step.field("country") or None,
        amount_text=amount_text or None,
        bank=step.field("bank") or None,
        scenario_id=scenario_id,
        options=options,
    )
    errors: dict[str, str] = {}
    amount: Decimal | None = None
    if step.view.asks_amount:
        amount, amount_error = step.view.parse_amount(amount_text)
        if amount_error:
            errors["amount"] = step.t(amount_error)
    if scenario_error:
        errors["scenario"] = step.t(scenario_error)
    return choices, amount, errors


@router.get("/checkout")
async def checkout(request: Request) -> Response:
    """Page 1, at the ``url`` Deposit, SelectAccount and Withdraw answer."""
    query = request.query_params
    locale = query.get("Locale", "")
    emulator = _emulator(request)
    order = _find_order(emulator, query.get("OrderID", ""), query.get("SessionID", ""))
    if not _LOCALE.match(locale):
        locale = (order_attribute(order, "Locale") if order else None) or "en_GB"
    pages = Pages(request, Texts(language(locale)))
    if order is None:
        return pages.message("not_found", status=404)
    if order.state != "created":
        return pages.closed(order)
    emulator.touch(order)
    view = OrderView.of(order)
    express = view.express_account(emulator)
    if express is not None and query.get("Choose") != "1":
        return pages.express(view, express, locale, Choices())
    return pages.start(view, locale, Choices(country=query.get("Country")))


@_posted_page("/checkout/bank")
def choose_bank(step: _Step) -> Response:
    """Page 1 posted: on to the bank's login (or page 1 again, for a new country)."""
    choices, amount, errors = _page_one_input(step)
    if step.field("action") == "country":
        return step.pages.start(step.view, step.locale, choices)
    bank = _bank(choices.bank or "")
    if bank is None:
        errors["bank"] = step.t("bank_missing")
    if errors or bank is None:
        return step.pages.start(step.view, step.locale, choices, errors)
    state = order_state(step.order, step.locale, b=bank.code, sc=choices.scenario_id or "")
    if amount is not None:
        state["m"] = str(amount)
    return step.pages.login(step.view, state, bank)


@_posted_page("/checkout/login")
def log_in(step: _Step) -> Response:
    """Page 2 posted: the bank checks the login (with its magic values)."""
    bank = step.bank
    if bank is None:
        return step.pages.expired()
    identifier = step.field("identifier").strip()
    outcome = check_login(bank.country, identifier)
    if outcome.abandon:
        step.cancel(f"{bank.name} did not answer the login in time")
        return step.pages.leave(step.view, step.view.fail_url, "timeout")
    if not outcome.ok:
        # check_login's own message is English: say it again in the page language.
        label, pattern, example = login_format(bank, step.t)
        if re.match(pattern, identifier):
            error = step.t("login_refused")
        else:
            error = step.t("login_format", label=label, example=example)
        return step.pages.login(step.view, step.state, bank, identifier=identifier, error=error)
    return step.pages.accounts(step.view, {**step.state, "i": identifier}, bank)


@_posted_page("/checkout/account")
def choose_account(step: _Step) -> Response:
    """Page 3 posted: the account must be one of this login's."""
    bank = step.bank
    if bank is None or "i" not in step.state:
        return step.pages.expired()
    number = step.field("account")
    if not _has_account(bank, step.state["i"], number):
        return step.pages.accounts(step.view, step.state, bank, error=step.t("account_missing"))
    return step.pages.confirm(step.view, {**step.state, "a": number}, bank)


@_posted_page("/checkout/confirm")
def confirm(step: _Step) -> Response:
    """Page 4 posted: run the chosen scenario and go to SuccessURL."""
    view, state, bank = step.view, step.state, step.bank
    scenario_id = state.get("sc", "")
    amount = parse_decimal(state.get("m"))
    if (
        bank is None
        or "i" not in state
        or not _has_account(bank, state["i"], state.get("a", ""))
        or not view.offers_scenario(scenario_id)
        or (view.asks_amount and amount is None)
    ):
        return step.pages.expired()
    account = step.emulator.account_at(
        bank, state["i"], state["a"], view.holder, step.order.end_user_id
    )
    step.finish(account, scenario_id, amount if view.asks_amount else None)
    return step.pages.leave(view, view.success_url, "done")


@_posted_page("/checkout/express")
def confirm_express(step: _Step) -> Response:
    """The Trustly Express page posted: pay from the remembered account."""
    view = step.view
    account = view.express_account(step.emulator)
    if account is None or step.state.get("x") != account.account_id:
        return step.pages.expired()
    choices, amount, errors = _page_one_input(step)
    if errors:
        return step.pages.express(view, account, step.locale, choices, errors)
    step.finish(account, choices.scenario_id or view.default_scenario_id(), amount)
    return step.pages.leave(view, view.success_url, "done")


@_posted_page("/checkout/cancel")
def cancel(step: _Step) -> Response:
    """The "x" button (only shown with a FailURL): cancel now and go to FailURL."""
    fail_url = step.view.fail_url
    if fail_url is None:
        return step.pages.message("no_close", status=400)
    step.cancel("closed by the end user")
    return step.pages.leave(step.view, fail_url, "cancelled")
