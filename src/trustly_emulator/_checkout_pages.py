"""The checkout's pages: the templates rendered for one request, in one language.

Every page of an open order carries the signed ``state`` (see ``_checkout_state``) in its forms
and, when the order has a FailURL, the same state again in the "x" button's form.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request, Response
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from trustly_emulator._banks import BANKS, Bank, accounts_for
from trustly_emulator._checkout_state import app_secret, order_state, sign_state
from trustly_emulator._checkout_texts import Texts
from trustly_emulator._checkout_views import (
    Choices,
    OrderView,
    login_format,
    order_attribute,
    parse_decimal,
)
from trustly_emulator._state import BankAccount, Order
from trustly_emulator._templates import template_environment

__all__ = ["Pages"]

_TEMPLATES = Jinja2Templates(env=template_environment())
_DEFAULT_COUNTRY = "SE"  # as the emulator's headless checkout: a country without banks gets SE's
_LOGO_COLOURS = ("#c2410c", "#1d4ed8", "#0f766e", "#6d28d9", "#be185d", "#334155")


@dataclass(frozen=True)
class Pages:
    """The checkout's pages, as answers to one request in one language."""

    request: Request
    t: Texts

    def message(self, key: str, *, status: int = 200) -> Response:
        return self._render(
            "checkout_message.html",
            status=status,
            title=self.t(f"{key}_title"),
            body=self.t(f"{key}_body"),
            tone="ok" if key == "done" else ("error" if status >= 400 else "info"),
        )

    def expired(self) -> Response:
        """The posted state is not ours, or no longer fits its order or its bank login."""
        return self.message("expired", status=400)

    def closed(self, order: Order, *, status: int = 200) -> Response:
        cancelled = order.state in ("cancelling", "cancelled")
        return self.message("cancelled" if cancelled else "finished", status=status)

    def leave(self, view: OrderView, url: str | None, fallback: str) -> Response:
        """Send the end user to SuccessURL/FailURL as URLTarget asks, or show ``fallback``."""
        if url is None:
            return self.message(fallback)
        if view.url_target in ("_top", "_parent"):
            # Break out of the merchant's iframe: only the page itself can navigate its top/parent.
            return self._render(
                "checkout_redirect.html",
                title=self.t("redirecting", merchant=view.merchant),
                url=url,
                frame=view.url_target.removeprefix("_"),
                target=view.url_target,
                merchant=view.merchant,
            )
        return RedirectResponse(url, status_code=303)

    def start(
        self,
        view: OrderView,
        locale: str,
        choices: Choices,
        errors: Mapping[str, str] | None = None,
    ) -> Response:
        """Page 1: choose a bank, an amount when the order has none, and maybe a test case."""
        country = choices.country
        if country not in BANKS:
            country = order_attribute(view.order, "Country")
        if country is None or country not in BANKS:
            country = _DEFAULT_COUNTRY
        return self._order_page(
            view,
            "checkout_bank.html",
            order_state(view.order, locale),
            invalid=bool(errors),
            title=self.t("choose_bank"),
            country=country,
            countries=sorted(((c, self.t.country(c)) for c in BANKS), key=lambda c: c[1]),
            banks=[
                {"code": b.code, "name": b.name, "checked": b.code == choices.bank, **_logo(b)}
                for b in BANKS[country]
            ],
            **self._page_one_fields(view, choices, errors),
        )

    def express(
        self,
        view: OrderView,
        account: BankAccount,
        locale: str,
        choices: Choices,
        errors: Mapping[str, str] | None = None,
    ) -> Response:
        """Trustly Express: page 1 with the remembered account chosen, one "Confirm" away."""
        bank = next((b for bs in BANKS.values() for b in bs if b.name == account.bank), None)
        logo = _logo(bank) if bank else {"initials": account.bank[:1], "colour": "#334155"}
        return self._order_page(
            view,
            "checkout_express.html",
            order_state(view.order, locale, x=account.account_id),
            invalid=bool(errors),
            title=self.t("express_title", bank=account.bank, descriptor=account.descriptor),
            account={"bank": account.bank, "descriptor": account.descriptor, **logo},
            other_url=self._checkout_link(view.order, locale, Choose="1"),
            **self._page_one_fields(view, choices, errors),
        )

    def login(
        self,
        view: OrderView,
        state: Mapping[str, str],
        bank: Bank,
        *,
        identifier: str = "",
        error: str | None = None,
    ) -> Response:
        """Page 2: the bank's login, with the test values that make it refuse or time out."""
        label, _, example = login_format(bank, self.t)
        return self._order_page(
            view,
            "checkout_login.html",
            state,
            invalid=bool(error),
            title=self.t("login_title", bank=bank.name),
            bank=_bank_card(bank),
            label=label,
            example=example,
            identifier=identifier,
            error=error,
            back_url=self._checkout_link(view.order, state.get("l", ""), Choose="1"),
        )

    def accounts(
        self, view: OrderView, state: Mapping[str, str], bank: Bank, *, error: str | None = None
    ) -> Response:
        """Page 3: the accounts of the login in ``state``."""
        return self._order_page(
            view,
            "checkout_account.html",
            state,
            invalid=bool(error),
            title=self.t("accounts_title"),
            bank=_bank_card(bank),
            accounts=[
                {"number": number, "label": self.t.translated(label), "descriptor": _last4(number)}
                for number, label in accounts_for(bank, state["i"])
            ],
            error=error,
        )

    def confirm(self, view: OrderView, state: Mapping[str, str], bank: Bank) -> Response:
        """Page 4: what confirming does, from which account."""
        amount = view.shown_amount(parse_decimal(state.get("m")))
        label = dict(accounts_for(bank, state["i"])).get(state["a"], "")
        return self._order_page(
            view,
            "checkout_confirm.html",
            state,
            title=self.t("confirm_title"),
            headline=self.t(
                f"confirm_{view.kind}",
                amount=self.t.money(amount, view.currency) if amount is not None else "",
                merchant=view.merchant,
            ),
            bank=_bank_card(bank),
            account={"label": self.t.translated(label), "descriptor": _last4(state["a"])},
        )

    def _order_page(
        self,
        view: OrderView,
        template: str,
        state: Mapping[str, str],
        *,
        invalid: bool = False,
        **context: Any,
    ) -> Response:
        """A page of an open order: ``state`` signed into its forms, and the summary box."""
        token = sign_state(app_secret(self.request), state)
        t = self.t
        # The amount chosen on page 1 travels in the state; before that there is none.
        shown = view.shown_amount(parse_decimal(state.get("m")))
        summary = {
            "kind": t(f"kind_{view.kind}"),
            "merchant_label": t("merchant" if view.kind == "Deposit" else f"merchant_{view.kind}"),
            "merchant": view.merchant,
            "amount": t.money(shown, view.currency) if shown is not None else None,
        }
        return self._render(
            template,
            status=422 if invalid else 200,
            state=token,
            cancel_state=token if view.fail_url else None,
            summary=summary,
            **context,
        )

    def _page_one_fields(
        self, view: OrderView, choices: Choices, errors: Mapping[str, str] | None
    ) -> dict[str, Any]:
        """The amount field and "Set order options", shared by page 1 and the express page."""
        chosen = choices.scenario_id or view.default_scenario_id()
        amount_text = choices.amount_text
        if amount_text is None:
            amount_text = f"{view.default_amount():.2f}"
        return {
            "asks_amount": view.asks_amount,
            "amount_value": amount_text,
            "amount_hint": view.amount_hint(self.t),
            "currency": view.currency,
            "errors": errors or {},
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
                for s in view.scenarios()
            ],
        }

    def _render(self, template: str, *, status: int = 200, **context: Any) -> Response:
        prefix = self._prefix()
        # checkout_base.html reads it (StrictUndefined); only the pages of an open order have one.
        context.setdefault("cancel_state", None)
        return _TEMPLATES.TemplateResponse(
            self.request,
            template,
            {
                "t": self.t,
                "lang": self.t.lang,
                "css_url": f"{prefix}/_emulator/static/emulator.css",
                "action": lambda name: f"{prefix}/checkout/{name}",
                **context,
            },
            status_code=status,
        )

    def _checkout_link(self, order: Order, locale: str, **extra: str) -> str:
        query = {"OrderID": order.order_id, "SessionID": order.session_id, "Locale": locale}
        return f"{self._prefix()}/checkout?{urlencode({**query, **extra})}"

    def _prefix(self) -> str:
        root: str = self.request.scope.get("root_path", "")
        return root.rstrip("/")


def _last4(account_number: str) -> str:
    return f"**{account_number[-4:]}"  # as BankAccount.descriptor shows a registered account


def _bank_card(bank: Bank) -> dict[str, str]:
    return {"name": bank.name, **_logo(bank)}


def _logo(bank: Bank) -> dict[str, str]:
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
