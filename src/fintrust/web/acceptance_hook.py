"""The acceptance hook of ``fintrust emulator acceptance --hook-url`` (docs/emulator.md).

Mounted only with the setting ``acceptance_hook`` (the demo turns it on; production never
does): it creates customers and orders on request, and seeds a payout's money straight into the
ledger. The runner then plays Trustly's notifications for each order and reads the customer's
books back here to check that every scenario moved exactly the money it should.

- ``POST /_acceptance/orders`` ``{"kind", "amount", "currency", "scenario"}``: a Deposit, a
  SelectAccount or an AccountPayout started the way the app always starts them (an order and its
  outbox call in one transaction), with the call sent at once so that the order has Trustly's
  orderid; other kinds (Withdraw, which Trustly no longer offers) get 501.
- ``GET /_acceptance/state?enduserid=&currency=``: the customer's balance (what they can
  withdraw: a payout's reservation is already off it), payout accounts, and suspense.
"""

from __future__ import annotations

import secrets
import time
import uuid as uuid_module
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from fintrust.domain.ledger import TRUSTLY, LedgerTransaction, Transfer, wallet
from fintrust.domain.money import Money
from fintrust.services import accounts, outbox, payments
from fintrust.services.customers import register_customer, wallet_of
from fintrust.trustly import format_amount

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["router"]

router = APIRouter(prefix="/_acceptance", tags=["Acceptance hook"], include_in_schema=False)

SEED_REFERENCE = "acceptance-seed:{customer}"
WAIT_FOR_WORKER = 30.0  # seconds: a worker that claimed the call first is sending it
# Acceptance customers: recognisable in the operator console, Swedish like the demo's.
FIRSTNAME, LASTNAME, COUNTRY, LOCALE = "Acceptans", "Testsson", "SE", "sv_SE"


class OrderRequest(BaseModel):
    kind: str
    amount: str
    currency: str
    scenario: str | None = None


class HookRefusedError(Exception):
    def __init__(self, status_code: int, reason: str) -> None:
        super().__init__(reason)
        self.status_code = status_code


@router.post("/orders")
def create_order(body: OrderRequest, request: Request) -> JSONResponse:
    """Start an order for a fresh customer; answer its ids (the runner plays the rest)."""
    services: Services = request.app.state.services
    if body.kind not in ("Deposit", "AccountPayout", "SelectAccount"):
        # Withdraw is legacy: Trustly no longer offers it to new merchants (AccountPayout is).
        reason = f"fintrust does not start {body.kind} orders"
        return JSONResponse({"reason": reason}, status_code=501)
    try:
        amount = Money.of(body.amount, body.currency.upper())
        if not amount.is_positive:
            raise ValueError("the amount must be greater than zero")
    except ValueError as exc:
        return JSONResponse({"reason": str(exc)}, status_code=422)
    try:
        if body.kind == "Deposit":
            order_id, end_user_id = _deposit(services, amount)
        elif body.kind == "SelectAccount":
            order_id, end_user_id = _select_account(services, amount.currency)
        else:
            order_id, end_user_id = _payout(services, amount)
    except HookRefusedError as exc:
        return JSONResponse({"reason": str(exc)}, status_code=exc.status_code)
    with services.reader() as work:
        order = work.orders.get(order_id)
    assert order is not None
    return JSONResponse(
        {
            "orderid": order.trustly_order_id,
            "messageid": order.message_id,
            "enduserid": end_user_id,
            "amount": format_amount(amount.amount, amount.currency),
            "currency": amount.currency,
        }
    )


@router.get("/state")
def state(enduserid: str, currency: str, request: Request) -> JSONResponse:
    """The customer's books in ``currency``: balance, payout accounts, open suspense."""
    services: Services = request.app.state.services
    currency = currency.upper()
    with services.reader() as work:
        customer = work.customers.by_end_user_id(enduserid)
        if customer is None:
            return JSONResponse({"reason": f"no customer {enduserid!r}"}, status_code=404)
        # What the customer has: posted, less what is reserved for payouts in flight.
        balance = wallet_of(work, customer.id, currency).balance.available
        accounts = [row.account_id for row in work.bank_accounts.of_customer(customer.id)]
        orders = {row.id for row in work.orders.of_customer(customer.id)}
        parked = sum(
            item.amount
            for item in work.suspense.open_items()
            if item.order_id in orders and item.currency == currency
        )
    return JSONResponse(
        {
            "balance": _decimal(balance),
            "accounts": accounts,
            "suspense": _decimal(Money(currency, parked)),
        }
    )


def _decimal(money: Money) -> str:
    return f"{money.amount:f}"  # with the currency's decimals; may be zero or negative


def _customer(services: Services, currency: str) -> tuple[int, str]:
    end_user_id = f"acceptance-{uuid_module.uuid4().hex[:16]}"
    customer_id = register_customer(
        services.uow,
        end_user_id=end_user_id,
        firstname=FIRSTNAME,
        lastname=LASTNAME,
        country=COUNTRY,
        locale=LOCALE,
        currency=currency,
    )
    return customer_id, end_user_id


def _deposit(services: Services, amount: Money) -> tuple[int, str]:
    settings = services.settings
    customer_id, end_user_id = _customer(services, amount.currency)
    base = settings.public_base_url.rstrip("/")
    started = payments.start_deposit(
        services.uow,
        customer_id=customer_id,
        amount=amount,
        notification_url=settings.notification_url,
        success_url=f"{base}/",
        fail_url=f"{base}/",
        shopper_statement=settings.shopper_statement,
    )
    _send_now(services, started.order_id, "Deposit")
    return started.order_id, end_user_id


def _select_account(services: Services, currency: str) -> tuple[int, str]:
    settings = services.settings
    customer_id, end_user_id = _customer(services, currency)
    base = settings.public_base_url.rstrip("/")
    order_id, _ = accounts.start_select_account(
        services.uow,
        customer_id=customer_id,
        notification_url=settings.notification_url,
        success_url=f"{base}/",
        fail_url=f"{base}/",
    )
    _send_now(services, order_id, "SelectAccount")
    return order_id, end_user_id


def _payout(services: Services, amount: Money) -> tuple[int, str]:
    """A customer with ``amount`` in the wallet and a verified account, paid out at once."""
    settings = services.settings
    customer_id, end_user_id = _customer(services, amount.currency)
    try:
        accounts.register_bank_account(
            services.uow,
            services.trustly.client,
            customer_id=customer_id,
            clearing_house="SWEDEN",
            bank_number="8000",
            account_number=f"{secrets.randbelow(10**10):010d}",
        )
    except ValueError as exc:
        raise HookRefusedError(502, str(exc)) from None
    with services.uow() as work:
        # Demo money: booked as a deposit credit would be, under a reference that says what it
        # is (Trustly never saw it, so reconciliation will show it as a difference).
        work.ledger.record(
            LedgerTransaction(
                SEED_REFERENCE.format(customer=customer_id),
                f"acceptance hook: seed {amount} for a payout test",
                (Transfer(str(uuid_module.uuid4()), TRUSTLY, wallet(customer_id), amount),),
            )
        )
        work.commit()
    try:
        order_id = payments.request_withdrawal(
            services.uow,
            customer_id=customer_id,
            amount=amount,
            notification_url=settings.notification_url,
            shopper_statement=settings.shopper_statement,
        )
    except payments.WithdrawalRefusedError as exc:
        raise HookRefusedError(409, str(exc)) from None
    _send_now(services, order_id, "AccountPayout")
    return order_id, end_user_id


def _send_now(services: Services, order_id: int, method: str) -> None:
    """Send the order's call now instead of waiting for the worker; when a worker holds it
    already, wait (briefly) for its answer. Either way the order ends with Trustly's orderid."""
    with services.reader() as work:
        rows = [r for r in work.outbox.of_order(order_id) if r.method == method]
    if not rows:
        raise HookRefusedError(500, f"no {method} call was written for order {order_id}")
    outcome = outbox.send_now(services.uow, services.trustly.client, rows[0].id)
    deadline = time.monotonic() + WAIT_FOR_WORKER
    while True:
        with services.reader() as work:
            order = work.orders.get(order_id)
        assert order is not None
        if order.trustly_order_id:
            return
        if outcome != "claimed" or time.monotonic() > deadline:
            raise HookRefusedError(
                502, f"{method} gave the order no Trustly orderid ({outcome}): {order.error}"
            )
        time.sleep(0.05)
