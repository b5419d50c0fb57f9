"""The customer pages of fintrust Markets: sign in as a demo customer (never against live
Trustly), see the wallet and its history, deposit through Trustly's checkout, withdraw.

Only notifications move money (DESIGN.md): the deposit's return page (its SuccessURL) changes
nothing and says "processing" until the credit has arrived. Every POST carries a CSRF token
bound to the session (``fintrust.web.sessions``); pages are never framed, and the checkout page
may frame only the origin of the Trustly URL it shows (methods §6: iframe on wide screens,
redirect on small ones, a plain link whatever happens).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Row

from fintrust.adapters.db.schema import MAX_ID
from fintrust.domain.money import Money
from fintrust.services import outbox, payments
from fintrust.services.customers import CustomerNotFoundError
from fintrust.web import wallet_view
from fintrust.web._visit import Visit, origin_of
from fintrust.web.forms import AmountError, format_money, parse_amount_input

__all__ = ["STATIC_DIR", "router", "static_files"]

STATIC_DIR = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form()]


def static_files() -> StaticFiles:
    """The pages' stylesheet and script, served at ``/static``."""
    return StaticFiles(directory=STATIC_DIR)


def _sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


# ------------------------------------------------------------------------ sign in and out


def _demo_sign_in_off(visit: Visit) -> Response | None:
    """Signing in by picking a customer is for demos: never against live Trustly, where a real
    site signs its customers in with its own login."""
    if visit.services.settings.trustly_environment != "live":
        return None
    return visit.page(
        "message.html",
        status=404,
        title="Sign-in is not available here",
        body="This site runs against live Trustly, where demo sign-in is switched off.",
        link="/",
        link_text="Home",
        tone="bad",
    )


@router.get("/")
def sign_in_page(request: Request) -> Response:
    visit = Visit.of(request)
    if visit.customer() is not None:
        return visit.redirect("/wallet")
    if (off := _demo_sign_in_off(visit)) is not None:
        return off
    with visit.services.reader() as work:
        cards = wallet_view.customer_cards(work)
    return visit.page("sign_in.html", cards=cards)


@router.post("/sign-in")
def sign_in(request: Request, customer_id: Text = "", csrf_token: Text = "") -> Response:
    visit = Visit.of(request)
    if (off := _demo_sign_in_off(visit)) is not None:
        return off
    if not visit.csrf_ok(csrf_token):
        return visit.refused("/")
    with visit.services.reader() as work:
        found = work.customers.get(int(customer_id)) if _is_id(customer_id) else None
    if found is None:
        return visit.redirect("/")
    visit.start_session(found.id)
    return visit.redirect("/wallet")


@router.post("/sign-out")
def sign_out(request: Request, csrf_token: Text = "") -> Response:
    visit = Visit.of(request)
    if not visit.csrf_ok(csrf_token):
        return visit.refused("/wallet")
    visit.start_session(None)
    return visit.redirect("/")


# ------------------------------------------------------------------------ wallet


@router.get("/wallet")
def wallet_page(request: Request, withdrawal: int | None = None) -> Response:
    visit = Visit.of(request)
    customer = visit.customer()
    if customer is None:
        return visit.redirect("/")
    with visit.services.reader() as work:
        lines = wallet_view.wallets(work, customer.id)
        entries = wallet_view.history(work, customer.id)
        destination = wallet_view.payout_destination(work, customer.id)
    requested = next(
        (e for e in entries if withdrawal is not None and e.order_id == withdrawal), None
    )
    return visit.page(
        "wallet.html",
        customer=customer,
        nav="wallet",
        wallets=lines,
        entries=entries,
        destination=destination,
        requested=requested if requested and requested.kind == "withdrawal" else None,
    )


# ------------------------------------------------------------------------ deposit


@router.get("/deposit")
def deposit_page(request: Request) -> Response:
    visit = Visit.of(request)
    customer = visit.customer()
    if customer is None:
        return visit.redirect("/")
    return _deposit_form(visit, customer)


def _deposit_form(
    visit: Visit, customer: Row[Any], *, amount: str = "", currency: str = "", error: str = ""
) -> Response:
    with visit.services.reader() as work:
        lines = wallet_view.wallets(work, customer.id)
    return visit.page(
        "deposit.html",
        status=400 if error else 200,
        customer=customer,
        nav="deposit",
        wallets=lines,
        amount=amount,
        currency=_known(currency, lines),
        error=error,
    )


@router.post("/deposit")
def deposit(
    request: Request, amount: Text = "", currency: Text = "", csrf_token: Text = ""
) -> Response:
    visit = Visit.of(request)
    customer = visit.posting_customer(csrf_token, "/deposit")
    if isinstance(customer, Response):
        return customer
    try:
        money = _read_amount(visit, customer, amount, currency)
    except AmountError as exc:
        return _deposit_form(visit, customer, amount=amount, currency=currency, error=str(exc))
    settings, services = visit.services.settings, visit.services
    base = settings.public_base_url.rstrip("/")
    started = payments.start_deposit(
        services.uow,
        customer_id=customer.id,
        amount=money,
        notification_url=settings.notification_url,
        success_url=f"{base}/deposit/{{order_id}}/return",
        fail_url=f"{base}/deposit/{{order_id}}/failed",
        shopper_statement=settings.shopper_statement,
    )
    # The customer waits for the checkout URL: send the Deposit now. An unknown outcome stays
    # in the outbox, and the worker re-sends the identical request.
    outbox.send_now(services.uow, services.trustly.client, started.outbox_id)
    return visit.redirect(f"/deposit/{started.order_id}")


def _read_amount(visit: Visit, customer: Row[Any], amount: str, currency: str) -> Money:
    with visit.services.reader() as work:
        currencies = [line.currency for line in wallet_view.wallets(work, customer.id)]
    if currency not in currencies:
        raise AmountError("Choose one of your wallets.")
    return parse_amount_input(amount, currency)


def _known(currency: str, lines: list[wallet_view.WalletLine]) -> str:
    """The currency to show in a form: the one asked for if it is a wallet's, else the first."""
    if any(line.currency == currency for line in lines):
        return currency
    return lines[0].currency if lines else ""


def _is_id(text: str) -> bool:
    # isdecimal, not isdigit: "²" is a digit that int() refuses.
    return text.isascii() and text.isdecimal() and 1 <= int(text) <= MAX_ID


def _own_deposit(visit: Visit, customer: Row[Any], order_id: int) -> Row[Any] | None:
    if not 1 <= order_id <= MAX_ID:  # no such order, and PostgreSQL would not even look
        return None
    with visit.services.reader() as work:
        order = work.orders.get(order_id)
    if order is None or order.customer_id != customer.id or order.kind != "deposit":
        return None
    return order


@router.get("/deposit/{order_id}")
def deposit_checkout(request: Request, order_id: int) -> Response:
    """Trustly's checkout in our page: an iframe on a wide screen, the whole window on a small
    one (``fintrust.js`` decides), and a link that works whatever the script does."""
    visit = Visit.of(request)
    customer = visit.customer()
    if customer is None:
        return visit.redirect("/")
    order = _own_deposit(visit, customer, order_id)
    if order is None:
        return visit.not_found(customer)
    if order.state not in ("created", "started"):
        return visit.redirect(f"/deposit/{order.id}/return")
    url = order.checkout_url if order.state == "started" else None
    return visit.page(
        "deposit_checkout.html",
        customer=customer,
        nav="deposit",
        order=order,
        amount=Money(order.currency, order.amount),
        checkout_url=url,
        frame_origin=origin_of(url) if url else None,
    )


@router.get("/deposit/{order_id}/return")
def deposit_return(request: Request, order_id: int) -> Response:
    """The SuccessURL. It proves nothing (methods §6.2): "processing" until the credit."""
    visit = Visit.of(request)
    customer = visit.customer()
    if customer is None:
        return visit.redirect("/")
    order = _own_deposit(visit, customer, order_id)
    if order is None:
        return visit.not_found(customer)
    status = _status(visit, order)
    return visit.page(
        "deposit_return.html",
        customer=customer,
        nav="deposit",
        order=order,
        amount=Money(order.currency, order.amount),
        outcome=status,
    )


@router.get("/deposit/{order_id}/failed")
def deposit_failed(request: Request, order_id: int) -> Response:
    """The FailURL: the customer closed or failed the checkout; Trustly cancels the order."""
    visit = Visit.of(request)
    customer = visit.customer()
    if customer is None:
        return visit.redirect("/")
    order = _own_deposit(visit, customer, order_id)
    if order is None:
        return visit.not_found(customer)
    return visit.page(
        "message.html",
        customer=customer,
        nav="deposit",
        title="Deposit not completed",
        body=f"Your deposit of {format_money(Money(order.currency, order.amount))} was "
        "cancelled at the bank. No money has moved.",
        link="/deposit",
        link_text="Try again",
        tone="bad",
    )


@router.get("/deposit/{order_id}/status")
def deposit_status(request: Request, order_id: int) -> Response:
    visit = Visit.of(request)
    customer = visit.customer()
    headers = {"Cache-Control": "no-store"}
    if customer is None:
        return JSONResponse({"error": "sign in first"}, status_code=401, headers=headers)
    order = _own_deposit(visit, customer, order_id)
    if order is None:
        return JSONResponse({"error": "no such deposit"}, status_code=404, headers=headers)
    return JSONResponse(_status(visit, order), headers=headers)


def _status(visit: Visit, order: Row[Any]) -> dict[str, Any]:
    with visit.services.reader() as work:
        line = next(
            (
                w
                for w in wallet_view.wallets(work, order.customer_id)
                if w.currency == order.currency
            ),
            None,
        )
    status = wallet_view.deposit_status(order, line)
    status["balance_text"] = format_money(line.posted) if line else None
    return status


# ------------------------------------------------------------------------ withdraw


@router.get("/withdraw")
def withdraw_page(request: Request) -> Response:
    visit = Visit.of(request)
    customer = visit.customer()
    if customer is None:
        return visit.redirect("/")
    return _withdraw_form(visit, customer)


def _withdraw_form(
    visit: Visit,
    customer: Row[Any],
    *,
    amount: str = "",
    currency: str = "",
    error: str = "",
    refusal: str = "",
) -> Response:
    """The form; ``error`` is about the amount as typed, ``refusal`` the service's answer."""
    with visit.services.reader() as work:
        lines = wallet_view.wallets(work, customer.id)
        destination = wallet_view.payout_destination(work, customer.id)
    return visit.page(
        "withdraw.html",
        status=400 if error or refusal else 200,
        customer=customer,
        nav="withdraw",
        wallets=lines,
        destination=destination,
        amount=amount,
        currency=_known(currency, lines),
        error=error,
        refusal=refusal,
    )


@router.post("/withdraw")
def withdraw(
    request: Request, amount: Text = "", currency: Text = "", csrf_token: Text = ""
) -> Response:
    visit = Visit.of(request)
    customer = visit.posting_customer(csrf_token, "/withdraw")
    if isinstance(customer, Response):
        return customer
    settings = visit.services.settings
    try:
        order_id = payments.request_withdrawal(
            visit.services.uow,
            customer_id=customer.id,
            amount=_read_amount(visit, customer, amount, currency),
            notification_url=settings.notification_url,
            shopper_statement=settings.shopper_statement,
        )
    except AmountError as exc:
        return _withdraw_form(visit, customer, amount=amount, currency=currency, error=str(exc))
    except payments.WithdrawalRefusedError as exc:
        refusal = _sentence(str(exc))
        return _withdraw_form(visit, customer, amount=amount, currency=currency, refusal=refusal)
    except CustomerNotFoundError:
        return visit.redirect("/")
    return visit.redirect(f"/wallet?withdrawal={order_id}")
