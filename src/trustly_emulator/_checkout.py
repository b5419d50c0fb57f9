"""The checkout and fake bank pages an end user sees at an order's ``url``.

Deposit, SelectAccount and Withdraw answer a ``url``: ``/checkout?OrderID=..&SessionID=..``. It
walks the end user through four pages: choose a bank (and, in "Set order options", a test case),
log in, choose an account, confirm. Confirming runs the chosen scenario; the "x" button (shown
only when the order has a FailURL) cancels at once. A returning end user's Deposit that carries
the AccountID of their last deposit (Trustly Express) is one "Confirm" away.

What a page needs to know from the pages before it travels in one hidden ``state`` field, signed
with an HMAC under a random secret of this app: nothing the browser sends is believed unless it
is signed, and each choice is checked again against the order and the bank login it belongs to.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import jinja2
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from trustly_emulator._banks import (
    BANKS,
    DEFAULT_LOGIN,
    LOGIN_FORMATS,
    Bank,
    accounts_for,
    check_login,
)
from trustly_emulator._emulator import Emulator
from trustly_emulator._scenarios import Scenario, for_kind
from trustly_emulator._state import BankAccount, Order

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
)
_CHECKOUT_KINDS: Final = frozenset({"Deposit", "SelectAccount", "Withdraw"})
_LOCALE = re.compile(r"\A[a-z]{2}(_[A-Z]{2})?\Z")
_MAX_TOKEN = 4096
_DEFAULT_COUNTRY = "SE"  # as the emulator's headless checkout: a country without banks gets SE's

# ---------------------------------------------------------------------------------- texts

_EN: Final[dict[str, str]] = {
    "brand": "Trustly emulator",
    "test_badge": "Test",
    "close": "Close and cancel",
    "step": "Step {n} of 4",
    "kind_Deposit": "Deposit",
    "kind_Withdraw": "Withdrawal",
    "kind_SelectAccount": "Choose an account",
    "merchant": "To",
    "merchant_Withdraw": "From",
    "merchant_SelectAccount": "For",
    "amount": "Amount",
    "amount_range": "Between {low} and {high}",
    "amount_min": "At least {low}",
    "amount_max": "At most {high}",
    "amount_invalid": "Enter an amount with at most two decimals.",
    "amount_out_of_range": "Enter an amount in the allowed range.",
    "choose_bank": "Choose your bank",
    "country": "Country",
    "update": "Update",
    "bank_missing": "Choose a bank to continue.",
    "continue": "Continue",
    "options": "Set order options",
    "options_help": "Choose what happens after the checkout. Test environment only.",
    "trustly_case": "Trustly test case",
    "emulator_case": "Emulator scenario",
    "default_case": "default",
    "scenario_invalid": "Choose one of the listed test cases.",
    "login_title": "Log in to {bank}",
    "login_intro": "Identify yourself as you do in {bank}'s online bank.",
    "example": "For example {example}",
    "log_in": "Log in",
    "back": "Back",
    "test_values": "Test values",
    "test_any": "Any {label} in this format logs in.",
    "test_0000": "Ending in 0000: the bank refuses the login; you can try again.",
    "test_9999": "Ending in 9999: the bank times out and the order is cancelled.",
    "login_format": "Enter a {label} like {example}.",
    "login_refused": "The bank did not accept this login. Try again.",
    "accounts_title": "Choose account",
    "accounts_intro": "Your accounts at {bank}",
    "account_missing": "Choose an account to continue.",
    "confirm_title": "Confirm",
    "confirm_Deposit": "Pay {amount} to {merchant}",
    "confirm_Withdraw": "Receive {amount} from {merchant}",
    "confirm_SelectAccount": "Use this account with {merchant}",
    "account": "Account",
    "bank": "Bank",
    "confirm": "Confirm",
    "express_title": "Pay from {bank} {descriptor}",
    "express_intro": "Welcome back. Your last-used account is ready.",
    "use_other": "Use another account",
    "done_title": "Done",
    "done_body": "You can close this window.",
    "finished_title": "This payment is already finished",
    "finished_body": "There is nothing more to do here. You can close this window.",
    "cancelled_title": "This payment is cancelled",
    "cancelled_body": "It cannot be continued. Start again from the shop if you want to pay.",
    "timeout_title": "The bank did not answer in time",
    "timeout_body": "The payment was cancelled. You can close this window.",
    "not_found_title": "Payment not found",
    "not_found_body": "This link is not valid. Start the payment again from the shop.",
    "expired_title": "This page cannot be used",
    "expired_body": "The form was changed or belongs to another payment. "
    "Open the payment link again.",
    "no_close_title": "This payment cannot be closed here",
    "no_close_body": "The shop gave no page to return to.",
    "redirecting": "Taking you back to {merchant}…",
    "redirect_link": "Continue to {merchant}",
    "footer": "Emulated Trustly checkout · no real money moves",
    "Salary account": "Salary account",
    "Savings account": "Savings account",
    "Joint account": "Joint account",
    "Online banking user ID": "Online banking user ID",
}
_SV: Final[dict[str, str]] = {
    **_EN,
    "brand": "Trustly-emulator",
    "test_badge": "Test",
    "close": "Stäng och avbryt",
    "step": "Steg {n} av 4",
    "kind_Deposit": "Insättning",
    "kind_Withdraw": "Uttag",
    "kind_SelectAccount": "Välj konto",
    "merchant": "Till",
    "merchant_Withdraw": "Från",
    "merchant_SelectAccount": "För",
    "amount": "Belopp",
    "amount_range": "Mellan {low} och {high}",
    "amount_min": "Minst {low}",
    "amount_max": "Högst {high}",
    "amount_invalid": "Ange ett belopp med högst två decimaler.",
    "amount_out_of_range": "Ange ett belopp inom det tillåtna intervallet.",
    "choose_bank": "Välj din bank",
    "country": "Land",
    "update": "Uppdatera",
    "bank_missing": "Välj en bank för att fortsätta.",
    "continue": "Fortsätt",
    "options": "Ställ in orderalternativ",
    "options_help": "Välj vad som händer efter betalningen. Endast i testmiljön.",
    "trustly_case": "Trustlys testfall",
    "emulator_case": "Emulatorscenario",
    "default_case": "standard",
    "scenario_invalid": "Välj ett av testfallen i listan.",
    "login_title": "Logga in på {bank}",
    "login_intro": "Identifiera dig som i {bank}s internetbank.",
    "example": "Till exempel {example}",
    "log_in": "Logga in",
    "back": "Tillbaka",
    "test_values": "Testvärden",
    "test_any": "Alla {label} i detta format kan logga in.",
    "test_0000": "Slutar på 0000: banken nekar inloggningen; du kan försöka igen.",
    "test_9999": "Slutar på 9999: banken svarar inte i tid och ordern avbryts.",
    "login_format": "Ange ett {label} som {example}.",
    "login_refused": "Banken godtog inte inloggningen. Försök igen.",
    "accounts_title": "Välj konto",
    "accounts_intro": "Dina konton hos {bank}",
    "account_missing": "Välj ett konto för att fortsätta.",
    "confirm_title": "Bekräfta",
    "confirm_Deposit": "Betala {amount} till {merchant}",
    "confirm_Withdraw": "Ta emot {amount} från {merchant}",
    "confirm_SelectAccount": "Använd detta konto hos {merchant}",
    "account": "Konto",
    "bank": "Bank",
    "confirm": "Bekräfta",
    "express_title": "Betala från {bank} {descriptor}",
    "express_intro": "Välkommen tillbaka. Ditt senast använda konto är valt.",
    "use_other": "Använd ett annat konto",
    "done_title": "Klart",
    "done_body": "Du kan stänga det här fönstret.",
    "finished_title": "Den här betalningen är redan slutförd",
    "finished_body": "Det finns inget mer att göra här. Du kan stänga det här fönstret.",
    "cancelled_title": "Den här betalningen är avbruten",
    "cancelled_body": "Den kan inte fortsätta. Börja om från butiken om du vill betala.",
    "timeout_title": "Banken svarade inte i tid",
    "timeout_body": "Betalningen avbröts. Du kan stänga det här fönstret.",
    "not_found_title": "Betalningen hittades inte",
    "not_found_body": "Länken är inte giltig. Börja om betalningen från butiken.",
    "expired_title": "Sidan kan inte användas",
    "expired_body": "Formuläret har ändrats eller hör till en annan betalning. "
    "Öppna betalningslänken igen.",
    "no_close_title": "Betalningen kan inte stängas här",
    "no_close_body": "Butiken angav ingen sida att återvända till.",
    "redirecting": "Du skickas tillbaka till {merchant}…",
    "redirect_link": "Fortsätt till {merchant}",
    "footer": "Emulerad Trustly-betalning · inga riktiga pengar flyttas",
    "Salary account": "Lönekonto",
    "Savings account": "Sparkonto",
    "Joint account": "Gemensamt konto",
    "Online banking user ID": "Användar-ID för internetbanken",
}
_TEXTS: Final[dict[str, dict[str, str]]] = {"en": _EN, "sv": _SV}

_COUNTRY_NAMES: Final[dict[str, dict[str, str]]] = {
    "en": {
        "SE": "Sweden", "FI": "Finland", "NO": "Norway", "DK": "Denmark", "DE": "Germany",
        "NL": "Netherlands", "EE": "Estonia", "GB": "United Kingdom", "ES": "Spain",
        "PL": "Poland",
    },
    "sv": {
        "SE": "Sverige", "FI": "Finland", "NO": "Norge", "DK": "Danmark", "DE": "Tyskland",
        "NL": "Nederländerna", "EE": "Estland", "GB": "Storbritannien", "ES": "Spanien",
        "PL": "Polen",
    },
}  # fmt: skip

_LOGO_COLOURS: Final = ("#c2410c", "#1d4ed8", "#0f766e", "#6d28d9", "#be185d", "#334155")


def language(locale: str | None) -> str:
    """The page language for an order's ``Locale`` (``sv``, ``sv_SE``, ... → Swedish)."""
    return "sv" if (locale or "").lower().startswith("sv") else "en"


class _Texts:
    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.table = _TEXTS[lang]

    def __call__(self, key: str, **values: object) -> str:
        text = self.table[key]
        return text.format(**values) if values else text

    def money(self, amount: Decimal, currency: str) -> str:
        text = f"{amount:,.2f}"
        if self.lang == "sv":  # 1 234,50
            text = text.replace(",", "\u00a0").replace(".", ",")
        return f"{text}\u00a0{currency}"


# ---------------------------------------------------------------------------------- state


def _secret(request: Request) -> bytes:
    """This app's random key for the signed ``state`` field, made on first use."""
    state = request.app.state
    secret: bytes | None = getattr(state, "checkout_secret", None)
    if secret is None:
        secret = secrets.token_bytes(32)
        state.checkout_secret = secret
    return secret


def sign_state(secret: bytes, state: Mapping[str, str]) -> str:
    body = base64.urlsafe_b64encode(
        json.dumps(dict(state), separators=(",", ":"), sort_keys=True).encode()
    ).decode("ascii")
    mac = hmac.new(secret, body.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def read_state(secret: bytes, token: str) -> dict[str, str] | None:
    """The state signed into ``token``, or None when it was not made here or was changed."""
    if len(token) > _MAX_TOKEN:
        return None
    body, _, mac = token.partition(".")
    expected = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return None
    try:
        state = json.loads(base64.urlsafe_b64decode(body.encode("ascii")))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in state.items()
    ):
        return None
    return state


# ---------------------------------------------------------------------------------- orders


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def _attr(order: Order, key: str) -> str | None:
    value = order.attributes.get(key)
    return value if isinstance(value, str) and value else None


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


@dataclass(frozen=True)
class _View:
    """What the pages show of an order."""

    order: Order
    merchant: str
    currency: str
    fixed_amount: Decimal | None
    low: Decimal | None
    high: Decimal | None
    fail_url: str | None
    success_url: str | None
    url_target: str | None

    @classmethod
    def of(cls, order: Order) -> _View:
        has_amount = order.method in ("Deposit", "Withdraw")
        return cls(
            order=order,
            merchant=_attr(order, "ShopperStatement") or order.merchant,
            currency=order.currency or _attr(order, "Currency") or "",
            fixed_amount=order.amount if has_amount else None,
            low=_decimal(_attr(order, "SuggestedMinAmount")) if has_amount else None,
            high=_decimal(_attr(order, "SuggestedMaxAmount")) if has_amount else None,
            fail_url=_attr(order, "FailURL"),
            success_url=_attr(order, "SuccessURL"),
            url_target=_attr(order, "URLTarget"),
        )

    @property
    def kind(self) -> str:
        return self.order.method

    @property
    def asks_amount(self) -> bool:
        return self.kind in ("Deposit", "Withdraw") and self.fixed_amount is None

    def default_amount(self) -> Decimal:
        if self.low is not None:
            return self.low
        hundred = Decimal("100.00")
        return min(hundred, self.high) if self.high is not None else hundred

    def amount_hint(self, t: _Texts) -> str:
        low = t.money(self.low, self.currency) if self.low is not None else None
        high = t.money(self.high, self.currency) if self.high is not None else None
        if low and high:
            return t("amount_range", low=low, high=high)
        if low:
            return t("amount_min", low=low)
        return t("amount_max", high=high) if high else ""

    def parse_amount(self, text: str) -> tuple[Decimal | None, str | None]:
        """The amount the end user typed, or the error key."""
        value = _decimal(text.strip().replace(",", ".").replace(" ", "").replace("\u00a0", ""))
        exponent = value.as_tuple().exponent if value is not None else 0
        if value is None or value <= 0 or not isinstance(exponent, int) or exponent < -2:
            return None, "amount_invalid"
        if value >= Decimal("1e12"):
            return None, "amount_invalid"
        if (self.low is not None and value < self.low) or (
            self.high is not None and value > self.high
        ):
            return None, "amount_out_of_range"
        return value.quantize(Decimal("0.01")), None

    def express_account(self, emulator: Emulator) -> BankAccount | None:
        """Trustly Express: the Deposit names the account of this end user's last deposit."""
        order = self.order
        account_id = _attr(order, "AccountID")
        if order.method != "Deposit" or account_id is None:
            return None
        if emulator.store.last_account.get((order.merchant, order.end_user_id)) != account_id:
            return None
        return emulator.store.accounts.get(account_id)


def _find_order(emulator: Emulator, order_id: str, session_id: str) -> Order | None:
    order = emulator.store.order(order_id) if order_id else None
    if order is None or order.method not in _CHECKOUT_KINDS or not order.session_id:
        return None
    if not hmac.compare_digest(order.session_id.encode(), session_id.encode()):
        return None
    return order


def _bank(code: str) -> Bank | None:
    for banks in BANKS.values():
        for bank in banks:
            if bank.code == code:
                return bank
    return None


def _scenarios(order: Order) -> list[Scenario]:
    return for_kind(order.method)


def _default_scenario_id(order: Order) -> str:
    choices = _scenarios(order)
    return next((s.id for s in choices if s.default), choices[0].id)


def _holder(order: Order) -> str:
    return f"{_attr(order, 'Firstname') or ''} {_attr(order, 'Lastname') or ''}".strip()


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


# ---------------------------------------------------------------------------------- rendering


def _prefix(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def _page(
    request: Request, t: _Texts, template: str, *, status: int = 200, **context: Any
) -> Response:
    prefix = _prefix(request)
    context.setdefault("cancel_state", None)
    return _TEMPLATES.TemplateResponse(
        request,
        template,
        {
            "t": t,
            "lang": t.lang,
            "css_url": f"{prefix}/_emulator/static/emulator.css",
            "action": lambda name: f"{prefix}/checkout/{name}",
            **context,
        },
        status_code=status,
    )


def _message(request: Request, t: _Texts, key: str, *, status: int = 200) -> Response:
    return _page(
        request,
        t,
        "checkout_message.html",
        status=status,
        title=t(f"{key}_title"),
        body=t(f"{key}_body"),
        tone="ok" if key == "done" else ("error" if status >= 400 else "info"),
    )


def _closed(request: Request, t: _Texts, order: Order, *, status: int = 200) -> Response:
    cancelled = order.state in ("cancelling", "cancelled")
    return _message(request, t, "cancelled" if cancelled else "finished", status=status)


def _summary(view: _View, t: _Texts, amount: Decimal | None) -> dict[str, str | None]:
    shown = view.fixed_amount if view.fixed_amount is not None else amount
    return {
        "kind": t(f"kind_{view.kind}"),
        "merchant_label": t("merchant" if view.kind == "Deposit" else f"merchant_{view.kind}"),
        "merchant": view.merchant,
        "amount": t.money(shown, view.currency) if shown is not None else None,
    }


def _checkout_link(request: Request, order: Order, locale: str, **extra: str) -> str:
    query = {"OrderID": order.order_id, "SessionID": order.session_id, "Locale": locale, **extra}
    return f"{_prefix(request)}/checkout?{urlencode(query)}"


def _bank_logo(bank: Bank) -> dict[str, str]:
    """A stand-in logo: the bank's initials on a colour of its own within its country."""
    words = bank.name.split()
    first = words[0]
    if first.isupper() and len(first) <= 4:
        initials = first
    elif len(words) > 1:
        initials = (first[0] + words[1][0]).upper()
    else:
        initials = first[0].upper()
    banks = BANKS.get(bank.country, [])
    index = banks.index(bank) if bank in banks else zlib.crc32(bank.code.encode())
    return {"initials": initials, "colour": _LOGO_COLOURS[index % len(_LOGO_COLOURS)]}


def _options_context(order: Order, choices: _Choices) -> dict[str, Any]:
    chosen = choices.scenario_id or _default_scenario_id(order)
    return {
        "options_on": choices.options,
        "scenarios": [
            {
                "id": s.id,
                "title": s.title,
                "summary": s.summary(),
                "trustly": s.trustly_test_case,
                "default": s.default,
                "checked": s.id == chosen,
            }
            for s in _scenarios(order)
        ],
    }


def _amount_context(view: _View, t: _Texts, choices: _Choices) -> dict[str, Any]:
    text = choices.amount_text
    return {
        "asks_amount": view.asks_amount,
        "amount_value": text if text is not None else f"{view.default_amount():.2f}",
        "amount_hint": view.amount_hint(t),
        "currency": view.currency,
    }


@dataclass(frozen=True)
class _Choices:
    """What the end user entered on page 1, to show it again."""

    country: str | None = None
    amount_text: str | None = None
    bank: str | None = None
    scenario_id: str | None = None
    options: bool = False


def _start_page(
    request: Request,
    order: Order,
    t: _Texts,
    locale: str,
    *,
    choices: _Choices | None = None,
    errors: Mapping[str, str] | None = None,
) -> Response:
    """Page 1: choose a bank, an amount when the order has none, and maybe a test case."""
    choices = choices or _Choices()
    view = _View.of(order)
    country = choices.country if choices.country in BANKS else _attr(order, "Country")
    if country is None or country not in BANKS:
        country = _DEFAULT_COUNTRY
    names = _COUNTRY_NAMES[t.lang]
    token = sign_state(_secret(request), {"o": order.order_id, "s": order.session_id, "l": locale})
    return _page(
        request,
        t,
        "checkout_bank.html",
        status=422 if errors else 200,
        title=t("choose_bank"),
        state=token,
        cancel_state=token if view.fail_url else None,
        summary=_summary(view, t, None),
        **_amount_context(view, t, choices),
        country=country,
        countries=sorted(((code, names[code]) for code in BANKS), key=lambda c: c[1]),
        banks=[
            {"code": b.code, "name": b.name, "checked": b.code == choices.bank, **_bank_logo(b)}
            for b in BANKS[country]
        ],
        errors=errors or {},
        **_options_context(order, choices),
    )


def _express_page(
    request: Request,
    order: Order,
    account: BankAccount,
    t: _Texts,
    locale: str,
    *,
    choices: _Choices | None = None,
    errors: Mapping[str, str] | None = None,
) -> Response:
    """Trustly Express: page 1 with the remembered account chosen, one "Confirm" away."""
    choices = choices or _Choices()
    view = _View.of(order)
    state = {"o": order.order_id, "s": order.session_id, "l": locale, "x": account.account_id}
    token = sign_state(_secret(request), state)
    bank = next((b for bs in BANKS.values() for b in bs if b.name == account.bank), None)
    logo = _bank_logo(bank) if bank else {"initials": account.bank[:1], "colour": "#334155"}
    return _page(
        request,
        t,
        "checkout_express.html",
        status=422 if errors else 200,
        title=t("express_title", bank=account.bank, descriptor=account.descriptor),
        state=token,
        cancel_state=token if view.fail_url else None,
        summary=_summary(view, t, None),
        account={"bank": account.bank, "descriptor": account.descriptor, **logo},
        **_amount_context(view, t, choices),
        other_url=_checkout_link(request, order, locale, Choose="1"),
        errors=errors or {},
        **_options_context(order, choices),
    )


def _login_page(
    request: Request,
    order: Order,
    t: _Texts,
    state: Mapping[str, str],
    bank: Bank,
    *,
    identifier: str = "",
    error: str | None = None,
) -> Response:
    view = _View.of(order)
    label, _, example = LOGIN_FORMATS.get(bank.country, DEFAULT_LOGIN)
    label = t.table.get(label, label)
    token = sign_state(_secret(request), state)
    return _page(
        request,
        t,
        "checkout_login.html",
        status=422 if error else 200,
        title=t("login_title", bank=bank.name),
        state=token,
        cancel_state=token if view.fail_url else None,
        summary=_summary(view, t, _decimal(state.get("m"))),
        bank={"name": bank.name, **_bank_logo(bank)},
        label=label,
        example=example,
        identifier=identifier,
        error=error,
        back_url=_checkout_link(request, order, state.get("l", ""), Choose="1"),
    )


def _accounts_page(
    request: Request,
    order: Order,
    t: _Texts,
    state: Mapping[str, str],
    bank: Bank,
    *,
    error: str | None = None,
) -> Response:
    view = _View.of(order)
    token = sign_state(_secret(request), state)
    return _page(
        request,
        t,
        "checkout_account.html",
        status=422 if error else 200,
        title=t("accounts_title"),
        state=token,
        cancel_state=token if view.fail_url else None,
        summary=_summary(view, t, _decimal(state.get("m"))),
        bank={"name": bank.name, **_bank_logo(bank)},
        accounts=[
            {"number": number, "label": t.table.get(label, label), "descriptor": f"**{number[-4:]}"}
            for number, label in accounts_for(bank, state["i"])
        ],
        error=error,
    )


def _confirm_page(
    request: Request, order: Order, t: _Texts, state: Mapping[str, str], bank: Bank
) -> Response:
    view = _View.of(order)
    token = sign_state(_secret(request), state)
    amount = view.fixed_amount if view.fixed_amount is not None else _decimal(state.get("m"))
    label = dict(accounts_for(bank, state["i"])).get(state["a"], "")
    return _page(
        request,
        t,
        "checkout_confirm.html",
        title=t("confirm_title"),
        state=token,
        cancel_state=token if view.fail_url else None,
        summary=_summary(view, t, amount),
        headline=t(
            f"confirm_{view.kind}",
            amount=t.money(amount, view.currency) if amount is not None else "",
            merchant=view.merchant,
        ),
        bank={"name": bank.name, **_bank_logo(bank)},
        account={"label": t.table.get(label, label), "descriptor": f"**{state['a'][-4:]}"},
    )


def _leave(request: Request, order: Order, t: _Texts, url: str | None, fallback: str) -> Response:
    """Send the end user to SuccessURL/FailURL as URLTarget asks, or show ``fallback``."""
    if url is None:
        return _message(request, t, fallback)
    view = _View.of(order)
    if view.url_target in ("_top", "_parent"):
        # Break out of the merchant's iframe: only the page itself can navigate its top/parent.
        return _page(
            request,
            t,
            "checkout_redirect.html",
            title=t("redirecting", merchant=view.merchant),
            url=url,
            frame="top" if view.url_target == "_top" else "parent",
            target=view.url_target,
            merchant=view.merchant,
        )
    return RedirectResponse(url, status_code=303)


# ---------------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class _Step:
    """A posted page: its verified state, its order (open), its form and its language."""

    emulator: Emulator
    order: Order
    state: dict[str, str]
    form: FormData
    t: _Texts

    @property
    def locale(self) -> str:
        return self.state.get("l", "")

    def bank(self) -> Bank | None:
        bank = _bank(self.state.get("b", ""))
        return bank


async def _posted(request: Request) -> _Step | Response:
    form = await request.form()
    state = read_state(_secret(request), _field(form, "state"))
    if state is None or "o" not in state or "s" not in state:
        return _message(request, _Texts("en"), "expired", status=400)
    t = _Texts(language(state.get("l")))
    emulator = _emulator(request)
    order = _find_order(emulator, state["o"], state["s"])
    if order is None:
        return _message(request, t, "not_found", status=404)
    if order.state != "created":
        return _closed(request, t, order, status=409)
    emulator.touch(order)  # abandonment counts from the end user's last step
    return _Step(emulator, order, state, form, t)


def _chosen_scenario(step: _Step) -> tuple[str, bool, str | None]:
    """The scenario picked in "Set order options" (the default when they are off)."""
    options = _field(step.form, "options") == "1"
    picked = _field(step.form, "scenario")
    if not options:
        return _default_scenario_id(step.order), False, None
    if picked not in {s.id for s in _scenarios(step.order)}:
        return _default_scenario_id(step.order), True, "scenario_invalid"
    return picked, True, None


def _finish(step: _Step, account: BankAccount, scenario_id: str, amount: Decimal | None) -> None:
    order, emulator = step.order, step.emulator
    emulator.complete_checkout(order, scenario_id=scenario_id, account=account, amount=amount)
    emulator.dispatcher.wake()  # a served emulator's delivery loop sends them; never wait here


@router.get("/checkout")
async def checkout(request: Request) -> Response:
    """Page 1, at the ``url`` Deposit, SelectAccount and Withdraw answer."""
    query = request.query_params
    locale = query.get("Locale", "")
    emulator = _emulator(request)
    order = _find_order(emulator, query.get("OrderID", ""), query.get("SessionID", ""))
    if not _LOCALE.match(locale):
        locale = (_attr(order, "Locale") if order else None) or "en_GB"
    t = _Texts(language(locale))
    if order is None:
        return _message(request, t, "not_found", status=404)
    if order.state != "created":
        return _closed(request, t, order)
    emulator.touch(order)
    express = _View.of(order).express_account(emulator)
    if express is not None and query.get("Choose") != "1":
        return _express_page(request, order, express, t, locale)
    return _start_page(request, order, t, locale, choices=_Choices(country=query.get("Country")))


def _page_one_input(step: _Step) -> tuple[_Choices, Decimal | None, dict[str, str]]:
    """Page 1's fields (the express page's too): as entered, the amount, and the errors."""
    form, t = step.form, step.t
    view = _View.of(step.order)
    scenario_id, options, scenario_error = _chosen_scenario(step)
    amount_text = _field(form, "amount")
    choices = _Choices(
        country=_field(form, "country") or None,
        amount_text=amount_text or None,
        bank=_field(form, "bank") or None,
        scenario_id=scenario_id,
        options=options,
    )
    errors: dict[str, str] = {}
    amount: Decimal | None = None
    if view.asks_amount:
        amount, amount_error = view.parse_amount(amount_text)
        if amount_error:
            errors["amount"] = t(amount_error)
    if scenario_error:
        errors["scenario"] = t(scenario_error)
    return choices, amount, errors


@router.post("/checkout/bank")
async def choose_bank(request: Request) -> Response:
    """Page 1 posted: on to the bank's login (or page 1 again, for a new country)."""
    step = await _posted(request)
    if isinstance(step, Response):
        return step
    order, t = step.order, step.t
    choices, amount, errors = _page_one_input(step)
    if _field(step.form, "action") == "country":
        return _start_page(request, order, t, step.locale, choices=choices)
    bank = _bank(choices.bank or "")
    if bank is None:
        errors["bank"] = t("bank_missing")
    if errors or bank is None:
        return _start_page(request, order, t, step.locale, choices=choices, errors=errors)
    state = {**_base_state(step), "b": bank.code, "sc": choices.scenario_id or ""}
    if amount is not None:
        state["m"] = str(amount)
    return _login_page(request, order, t, state, bank)


def _base_state(step: _Step) -> dict[str, str]:
    return {"o": step.order.order_id, "s": step.order.session_id, "l": step.locale}


@router.post("/checkout/login")
async def log_in(request: Request) -> Response:
    """Page 2 posted: the bank checks the login (with its magic values)."""
    step = await _posted(request)
    if isinstance(step, Response):
        return step
    bank = step.bank()
    if bank is None:
        return _message(request, step.t, "expired", status=400)
    order, t = step.order, step.t
    identifier = _field(step.form, "identifier").strip()
    outcome = check_login(bank.country, identifier)
    if outcome.abandon:
        step.emulator.cancel_order(order, f"{bank.name} did not answer the login in time")
        step.emulator.dispatcher.wake()
        return _leave(request, order, t, _View.of(order).fail_url, "timeout")
    if not outcome.ok:
        label, pattern, example = LOGIN_FORMATS.get(bank.country, DEFAULT_LOGIN)
        if re.match(pattern, identifier):
            error = t("login_refused")
        else:
            error = t("login_format", label=t.table.get(label, label), example=example)
        return _login_page(request, order, t, step.state, bank, identifier=identifier, error=error)
    return _accounts_page(request, order, t, {**step.state, "i": identifier}, bank)


@router.post("/checkout/account")
async def choose_account(request: Request) -> Response:
    """Page 3 posted: the account must be one of this login's."""
    step = await _posted(request)
    if isinstance(step, Response):
        return step
    bank = step.bank()
    if bank is None or "i" not in step.state:
        return _message(request, step.t, "expired", status=400)
    number = _field(step.form, "account")
    if number not in {n for n, _ in accounts_for(bank, step.state["i"])}:
        error = step.t("account_missing")
        return _accounts_page(request, step.order, step.t, step.state, bank, error=error)
    return _confirm_page(request, step.order, step.t, {**step.state, "a": number}, bank)


@router.post("/checkout/confirm")
async def confirm(request: Request) -> Response:
    """Page 4 posted: run the chosen scenario and go to SuccessURL."""
    step = await _posted(request)
    if isinstance(step, Response):
        return step
    order, state = step.order, step.state
    bank = step.bank()
    view = _View.of(order)
    scenario_id = state.get("sc", "")
    amount = _decimal(state.get("m"))
    if (
        bank is None
        or "i" not in state
        or state.get("a") not in {n for n, _ in accounts_for(bank, state["i"])}
        or scenario_id not in {s.id for s in _scenarios(order)}
        or (view.asks_amount and amount is None)
    ):
        return _message(request, step.t, "expired", status=400)
    account = step.emulator.account_at(
        bank, state["i"], state["a"], _holder(order), order.end_user_id
    )
    _finish(step, account, scenario_id, amount if view.asks_amount else None)
    return _leave(request, order, step.t, view.success_url, "done")


@router.post("/checkout/express")
async def confirm_express(request: Request) -> Response:
    """The Trustly Express page posted: pay from the remembered account."""
    step = await _posted(request)
    if isinstance(step, Response):
        return step
    order, t = step.order, step.t
    view = _View.of(order)
    account = view.express_account(step.emulator)
    if account is None or step.state.get("x") != account.account_id:
        return _message(request, t, "expired", status=400)
    choices, amount, errors = _page_one_input(step)
    if errors:
        return _express_page(
            request, order, account, t, step.locale, choices=choices, errors=errors
        )
    _finish(step, account, choices.scenario_id or _default_scenario_id(order), amount)
    return _leave(request, order, t, view.success_url, "done")


@router.post("/checkout/cancel")
async def cancel(request: Request) -> Response:
    """The "x" button (only shown with a FailURL): cancel now and go to FailURL."""
    step = await _posted(request)
    if isinstance(step, Response):
        return step
    fail_url = _View.of(step.order).fail_url
    if fail_url is None:
        return _message(request, step.t, "no_close", status=400)
    step.emulator.cancel_order(step.order, "closed by the end user")
    step.emulator.dispatcher.wake()
    return _leave(request, step.order, step.t, fail_url, "cancelled")
