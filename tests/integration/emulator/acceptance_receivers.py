"""Two reference merchants for the acceptance runner, each an ASGI app with a notification
endpoint (``/notifications``) and the acceptance hook (``/acceptance/orders``, ``/state``).

``CorrectMerchant`` does what Trustly's documentation asks; ``NaiveMerchant`` makes the usual
mistakes (credits on pending, no deduplication, ignores debit, trusts unsigned input) but
signs its replies correctly.
"""

from __future__ import annotations

import json
import secrets
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from fintrust.trustly import (
    InvalidNotificationError,
    InvalidSignatureError,
    Signer,
    Verifier,
    build_notification_reply,
    parse_notification,
)

BASE_URL = "http://merchant.test"
NOTIFICATION_URL = f"{BASE_URL}/notifications"
HOOK_URL = f"{BASE_URL}/acceptance"


@dataclass
class MerchantOrder:
    kind: str
    order_id: str
    message_id: str
    end_user_id: str
    amount: Decimal
    currency: str
    credited: Decimal = Decimal(0)
    taken: bool = False  # a payout's amount is off the balance
    settled: bool = False  # a payout's amount came back (once)


@dataclass
class Books:
    balance: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    suspense: dict[tuple[str, str], Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    accounts: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))


class ReferenceMerchant:
    """The hook and the bookkeeping both merchants share."""

    kinds: tuple[str, ...] = ("Deposit", "SelectAccount", "Withdraw", "AccountPayout")

    def __init__(self, emulator_public_pem: str, signer: Signer) -> None:
        self.verifier = Verifier.from_pem(emulator_public_pem)
        self.signer = signer
        self.orders: dict[str, MerchantOrder] = {}
        self.books = Books()
        self.received: list[tuple[str, str]] = []  # (method, notificationid)
        self.count = 0
        self.app = Starlette(
            routes=[
                Route("/notifications", self.notification, methods=["POST"]),
                Route("/acceptance/orders", self.create_order, methods=["POST"]),
                Route("/acceptance/state", self.state, methods=["GET"]),
            ]
        )

    async def notification(self, request: Request) -> Response:
        raise NotImplementedError

    def reply(self, method: str, uuid: str, status: str) -> Response:
        body = build_notification_reply(method, uuid, self.signer, status)
        return Response(body, media_type="application/json")

    async def create_order(self, request: Request) -> Response:
        raw: dict[str, Any] = await request.json()
        if raw["kind"] not in self.kinds:
            return JSONResponse({"reason": f"no {raw['kind']} here"}, status_code=501)
        self.count += 1
        order = MerchantOrder(
            kind=raw["kind"],
            order_id=str(secrets.randbelow(9 * 10**9) + 10**9),
            message_id=f"m-{self.count}",
            end_user_id=f"user-{self.count}",
            amount=Decimal(raw["amount"]),
            currency=raw["currency"],
        )
        self.orders[order.order_id] = order
        if order.kind == "AccountPayout":  # reserve what is paid out
            self.books.balance[order.end_user_id, order.currency] -= order.amount
            order.taken = True
        return JSONResponse(
            {
                "orderid": order.order_id,
                "messageid": order.message_id,
                "enduserid": order.end_user_id,
                "amount": f"{order.amount:.2f}",
                "currency": order.currency,
            }
        )

    async def state(self, request: Request) -> Response:
        user, currency = request.query_params["enduserid"], request.query_params["currency"]
        return JSONResponse(
            {
                "balance": f"{self.books.balance[user, currency]:.2f}",
                "accounts": self.books.accounts[user],
                "suspense": f"{self.books.suspense[user, currency]:.2f}",
            }
        )

    def store_account(self, order: MerchantOrder, account_id: str) -> None:
        if account_id not in self.books.accounts[order.end_user_id]:
            self.books.accounts[order.end_user_id].append(account_id)


class CorrectMerchant(ReferenceMerchant):
    def __init__(self, emulator_public_pem: str, signer: Signer) -> None:
        super().__init__(emulator_public_pem, signer)
        self.processed: dict[str, str] = {}  # notificationid -> the status answered
        self.refuse_duplicates = False  # the classic mistake: HTTP 409 for a re-delivery

    async def notification(self, request: Request) -> Response:
        try:
            notification = parse_notification(await request.body(), self.verifier)
        except (InvalidNotificationError, InvalidSignatureError) as exc:
            return PlainTextResponse(f"refused: {exc}", status_code=400)
        method, uuid, nid = notification.method, notification.uuid, notification.notification_id
        assert nid is not None
        self.received.append((method, nid))
        if nid in self.processed and self.refuse_duplicates:
            return PlainTextResponse("already processed", status_code=409)
        if nid in self.processed:
            return self.reply(method, uuid, self.processed[nid])
        if not notification.is_known_method:
            status = "OK"
        else:
            order = self.orders.get(notification.order_id or "")
            if order is None:
                return PlainTextResponse("unknown order", status_code=400)
            status = self.apply(order, method, dict(notification.raw_data))
        self.processed[nid] = status
        return self.reply(method, uuid, status)

    def apply(self, order: MerchantOrder, method: str, data: dict[str, Any]) -> str:
        key = (order.end_user_id, order.currency)
        balance, suspense = self.books.balance, self.books.suspense
        if method == "kyc":
            return "CONTINUE"
        if method == "account":
            self.store_account(order, data["accountid"])
        elif order.kind == "Deposit" and method == "credit":
            amount = Decimal(data["amount"])
            if amount == order.amount and data["currency"] == order.currency:
                balance[key] += amount
                order.credited += amount
            else:  # not what was asked for: park it for review
                suspense[key] += amount
        elif order.kind == "Deposit" and method == "debit":
            taken = min(Decimal(data["amount"]), order.credited)
            balance[key] -= taken
            order.credited -= taken
        elif order.kind == "Withdraw" and method == "debit":
            balance[key] -= Decimal(data["amount"])
            order.taken = True
        elif method in ("credit", "cancel") and order.taken and not order.settled:
            # a payout's money comes back, once (Trustly may send both cancel and credit)
            balance[key] += order.amount
            order.settled = True
        return "OK"


class NaiveMerchant(ReferenceMerchant):
    kinds = ("Deposit", "SelectAccount", "Withdraw")  # no payouts: the hook answers 501

    async def notification(self, request: Request) -> Response:
        message = json.loads(await request.body())  # trusts whatever arrives
        method, uuid, data = message["method"], message["params"]["uuid"], message["params"]["data"]
        self.received.append((method, data.get("notificationid", "")))
        order = self.orders.get(data.get("orderid", ""))
        if order is not None:
            if method in ("pending", "credit"):
                self.books.balance[order.end_user_id, order.currency] += Decimal(data["amount"])
            elif method == "account":
                self.store_account(order, data["accountid"])
        return self.reply(method, uuid, "CONTINUE" if method == "kyc" else "OK")


def client_for(merchant: ReferenceMerchant) -> httpx.AsyncClient:
    """An HTTP client that reaches ``merchant`` in-process (notifications and hook alike)."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=merchant.app), base_url=BASE_URL)
