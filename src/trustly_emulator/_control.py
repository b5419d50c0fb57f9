"""The control plane under ``/_emulator/``: what Trustly's back office and test tools do, for
tests and scripts. Serve it on loopback only; it has no authentication."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from trustly_emulator._clock import ManualClock
from trustly_emulator._config import MerchantConfig
from trustly_emulator._emulator import Emulator
from trustly_emulator._faults import FaultKind, FaultRule
from trustly_emulator._scenarios import catalogue, scenario
from trustly_emulator._state import Order, plain, plain_dict

__all__ = ["router"]

router = APIRouter(prefix="/_emulator", tags=["control plane"])


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def _order(emulator: Emulator, order_id: str) -> Order:
    order = emulator.store.order(order_id)
    if order is None:
        raise HTTPException(404, f"no order {order_id}")
    return order


def order_view(emulator: Emulator, order: Order) -> dict[str, Any]:
    view = plain_dict(order)
    view["notifications"] = [plain(n) for n in emulator.store.notifications_of(order.order_id)]
    return view


@router.get("/config")
def config(request: Request) -> dict[str, Any]:
    """What a merchant needs: the API URL and the emulator's public key (it signs everything)."""
    emulator = _emulator(request)
    base = emulator.config.base_url.rstrip("/")
    return {
        "api_url": f"{base}/api/1",
        "public_key_pem": emulator.keys.public_pem,
        "merchants": sorted(emulator.store.merchants),
        "manual_clock": isinstance(emulator.clock, ManualClock),
    }


@router.post("/reset")
def reset(request: Request) -> dict[str, str]:
    _emulator(request).reset()
    return {"status": "reset"}


@router.get("/snapshot")
def snapshot(request: Request) -> dict[str, Any]:
    emulator = _emulator(request)
    return {**emulator.store.snapshot(), "now": emulator.clock.now()}


@router.get("/scenarios")
def scenarios() -> list[dict[str, Any]]:
    return [{**s.model_dump(mode="json"), "summary": s.summary()} for s in catalogue()]


class MerchantIn(BaseModel):
    username: str
    password: str
    public_key_pem: str | None = None
    notifications: list[str] = Field(default_factory=list)
    balances: dict[str, str] = Field(default_factory=dict)


@router.post("/merchants")
def add_merchant(request: Request, merchant: MerchantIn) -> dict[str, Any]:
    try:
        config = MerchantConfig(
            merchant.username,
            merchant.password,
            merchant.public_key_pem,
            frozenset(merchant.notifications),
            merchant.balances,
        )
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    state = _emulator(request).add_merchant(config)
    return plain_dict(state)


@router.get("/merchants")
def merchants(request: Request) -> list[dict[str, Any]]:
    return [plain(m) for m in _emulator(request).store.merchants.values()]


@router.get("/orders")
def orders(
    request: Request, merchant: str | None = None, enduserid: str | None = None
) -> list[dict[str, Any]]:
    emulator = _emulator(request)
    return [
        plain(o)
        for o in emulator.store.orders.values()
        if merchant in (None, o.merchant) and enduserid in (None, o.end_user_id)
    ]


@router.get("/orders/{order_id}")
def order(request: Request, order_id: str) -> dict[str, Any]:
    emulator = _emulator(request)
    return order_view(emulator, _order(emulator, order_id))


class CompleteIn(BaseModel):
    scenario: str | None = None
    amount: Decimal | None = None
    deliver: bool = True  # deliver what is due now before answering


@router.post("/orders/{order_id}/complete")
async def complete(request: Request, order_id: str, body: CompleteIn) -> dict[str, Any]:
    """Complete a checkout headlessly with a chosen scenario (as the bank pages would)."""
    emulator = _emulator(request)
    order = _order(emulator, order_id)
    try:
        if body.scenario:
            scenario(body.scenario)
        emulator.complete_checkout(order, scenario_id=body.scenario, amount=body.amount)
    except (KeyError, ValueError) as exc:
        raise HTTPException(409, str(exc).strip("'\"")) from None
    if body.deliver:
        await emulator.deliver_due()
    return order_view(emulator, order)


class CancelIn(BaseModel):
    reason: str = "closed by the end user"
    deliver: bool = True


@router.post("/orders/{order_id}/cancel")
async def cancel(request: Request, order_id: str, body: CancelIn) -> dict[str, Any]:
    emulator = _emulator(request)
    order = _order(emulator, order_id)
    try:
        emulator.cancel_order(order, body.reason)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    if body.deliver:
        await emulator.deliver_due()
    return order_view(emulator, order)


class AdvanceIn(BaseModel):
    seconds: float = Field(ge=0)


@router.post("/clock/advance")
async def advance(request: Request, body: AdvanceIn) -> dict[str, Any]:
    """Skip time: every delay, retry back-off and scenario wait falls due on the way."""
    emulator = _emulator(request)
    attempts = await emulator.advance(body.seconds)
    return {"now": emulator.clock.now(), "attempts": attempts}


@router.post("/deliver")
async def deliver(request: Request) -> dict[str, int]:
    return {"attempts": await _emulator(request).deliver_due()}


@router.post("/notifications/{notification_id}/redeliver")
async def redeliver(request: Request, notification_id: str) -> dict[str, Any]:
    emulator = _emulator(request)
    if notification_id not in emulator.store.notifications:
        raise HTTPException(404, f"no notification {notification_id}")
    try:
        record = await emulator.redeliver(notification_id)
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from None
    return plain_dict(record)


class CustomNotificationIn(BaseModel):
    method: str = Field(pattern=r"^[a-z]+$")
    order_id: str | None = None  # sent to this order's NotificationURL, with its usual data
    url: str | None = None  # or to any URL, for ``merchant`` (whose key must sign the reply)
    merchant: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)  # merged over the usual data


@router.post("/notifications")
async def send_notification(request: Request, body: CustomNotificationIn) -> dict[str, Any]:
    """Sign and send any notification now (like the notification tool's cURL command)."""
    emulator = _emulator(request)
    try:
        record = emulator.custom_notification(
            body.method, body.data, order_id=body.order_id, url=body.url, merchant=body.merchant
        )
    except (KeyError, ValueError) as exc:
        raise HTTPException(422, str(exc).strip("'\"")) from None
    await emulator.dispatcher.attempt(record)
    return plain_dict(record)


class FaultIn(BaseModel):
    kind: FaultKind
    merchant: str | None = None
    order_id: str | None = None
    methods: list[str] | None = None
    times: int | None = Field(default=None, ge=1)
    seconds: float = Field(default=0, ge=0)


@router.get("/faults")
def faults(request: Request) -> list[dict[str, Any]]:
    return [plain(rule) for rule in _emulator(request).faults.rules]


@router.post("/faults")
def add_fault(request: Request, body: FaultIn) -> dict[str, Any]:
    rule = _emulator(request).faults.add(FaultRule(**body.model_dump()))
    return plain_dict(rule)


@router.delete("/faults")
def clear_faults(request: Request) -> dict[str, str]:
    _emulator(request).faults.clear()
    return {"status": "cleared"}


class PayoutRuleIn(BaseModel):
    scenario: str
    merchant: str | None = None
    enduserid: str | None = None


@router.post("/payout-rules")
def add_payout_rule(request: Request, body: PayoutRuleIn) -> list[dict[str, Any]]:
    """Choose the scenario later AccountPayouts run (they have no checkout to pick one in)."""
    try:
        if "AccountPayout" not in scenario(body.scenario).applies_to:
            raise HTTPException(422, f"{body.scenario} is not a payout scenario")
    except KeyError as exc:
        raise HTTPException(422, str(exc).strip("'\"")) from None
    emulator = _emulator(request)
    emulator.payout_rules.insert(0, body.model_dump())
    return emulator.payout_rules


@router.delete("/payout-rules")
def clear_payout_rules(request: Request) -> dict[str, str]:
    _emulator(request).payout_rules.clear()
    return {"status": "cleared"}
