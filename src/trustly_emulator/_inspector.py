"""The inspector: HTML pages under ``/_emulator/`` showing what the emulator did: merchants and
balances, orders, every notification and each delivery attempt with its request and reply.

Read-only except for a few buttons that call the control plane (re-deliver, complete, cancel,
advance the clock). Everything is escaped (Jinja autoescape); passwords are never shown.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from trustly_emulator._clock import ManualClock
from trustly_emulator._config import key_fingerprint
from trustly_emulator._emulator import Emulator
from trustly_emulator._scenarios import Scenario, catalogue, for_kind
from trustly_emulator._state import DeliveryAttempt, NotificationRecord, Order
from trustly_emulator._templates import template_environment

__all__ = ["router"]

router = APIRouter(prefix="/_emulator", include_in_schema=False)

RECENT_ORDERS = 100
RECENT_ERRORS = 50
COMPLETABLE = ("created", "checkout")

_ORDER_TONES = {
    "created": "neutral",
    "checkout": "info",
    "pending": "warn",
    "cancelling": "warn",
    "awaiting debit": "warn",
    "awaiting approval": "warn",
    "credited": "ok",
    "account selected": "ok",
    "approved": "ok",
    "confirmed": "ok",
    "debited": "bad",
    "cancelled": "bad",
    "denied": "bad",
    "credited back": "bad",
}
_NOTIFICATION_TONES = {
    "scheduled": "info",
    "held": "warn",
    "delivered": "ok",
    "failed": "bad",
    "not-sent": "neutral",
    "sent by hand": "accent",
}


def _when(epoch: float | None) -> str:
    if epoch is None:
        return "—"
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S") + f".{moment.microsecond // 1000:03d}"


def _pretty(text: str | Mapping[str, Any] | None) -> str:
    """JSON laid out for reading; anything that is not JSON as it came."""
    if text is None:
        return ""
    if not isinstance(text, str):
        return json.dumps(text, indent=2, ensure_ascii=False, default=str)
    try:
        return json.dumps(json.loads(text), indent=2, ensure_ascii=False)
    except ValueError:
        return text


def _order_tone(state: str) -> str:
    return _ORDER_TONES.get(state, "neutral")


def _notification_tone(state: str) -> str:
    return _NOTIFICATION_TONES.get(state, "neutral")


def _verdict_tone(verdict: str) -> str:
    if verdict.startswith("ok"):
        return "ok"
    return "warn" if "(fault)" in verdict else "bad"


def _http_tone(status: int | None) -> str:
    if status is None:
        return "neutral"
    return "ok" if 200 <= status < 300 else "bad"


def _money(amount: Decimal | str | None, currency: str | None = None) -> str:
    if amount is None:
        return "—"
    value = f"{Decimal(amount):,.2f}"
    return f"{value} {currency}" if currency else value


def _environment() -> jinja2.Environment:
    environment = template_environment()
    environment.filters.update(
        when=_when,
        pretty=_pretty,
        money=_money,
        order_tone=_order_tone,
        notification_tone=_notification_tone,
        verdict_tone=_verdict_tone,
        http_tone=_http_tone,
    )
    return environment


_jinja = _environment()


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


def _refresh(value: int | None) -> int:
    return 0 if not value else max(1, min(value, 300))


def _render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    html = _jinja.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})


def _common(emulator: Emulator, request: Request, refresh: int, title: str) -> dict[str, Any]:
    base = emulator.config.base_url.rstrip("/")
    return {
        "title": title,
        "now": emulator.clock.now(),
        "manual_clock": isinstance(emulator.clock, ManualClock),
        "api_url": f"{base}/api/1",
        "refresh": refresh,
        "path": request.url.path,
        "next_due": emulator.dispatcher.next_due(),
    }


# ------------------------------------------------------------------------------ the index


def _notification_counts(
    records: Iterable[NotificationRecord],
) -> dict[str, collections.Counter[str]]:
    counts: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for record in records:
        counts[record.order_id][record.state] += 1
        counts[record.order_id]["total"] += 1
    return counts


def _scenario_title(scenario_id: str | None) -> str:
    for entry in catalogue():
        if entry.id == scenario_id:
            return entry.title
    return ""


@router.get("/", response_class=HTMLResponse)
def index(request: Request, refresh: int | None = Query(default=None, ge=0)) -> HTMLResponse:
    """Merchants and balances, recent orders, API errors, fault rules and the clock."""
    emulator = _emulator(request)
    store = emulator.store
    counts = _notification_counts(store.notifications.values())
    orders = sorted(store.orders.values(), key=lambda o: o.created_at, reverse=True)
    order_counts = collections.Counter(o.merchant for o in store.orders.values())
    merchants = [
        {
            "username": m.username,
            "has_key": bool(m.public_key_pem),
            "notifications": sorted(m.notifications),
            "balances": sorted(m.balances.items()),
            "orders": order_counts[m.username],
        }
        for m in sorted(store.merchants.values(), key=lambda m: m.username)
    ]
    states = collections.Counter(n.state for n in store.notifications.values())
    loose = [n for n in store.notifications.values() if not n.order_id]
    return _render(
        "inspector_index.html",
        **_common(emulator, request, _refresh(refresh), "Trustly emulator"),
        fingerprint=key_fingerprint(emulator.keys.public_pem),
        merchants=merchants,
        orders=[
            {"order": o, "counts": dict(counts.get(o.order_id, collections.Counter()))}
            for o in orders[:RECENT_ORDERS]
        ],
        order_total=len(orders),
        notification_states=sorted(states.items()),
        notification_total=len(store.notifications),
        api_errors=list(reversed(emulator.api_errors))[:RECENT_ERRORS],
        api_error_total=len(emulator.api_errors),
        faults=list(emulator.faults.rules),
        payout_rules=list(emulator.payout_rules),
        loose_notifications=[_notification_view(r, r.due_at) for r in loose[-20:][::-1]],
        scenario_title=_scenario_title,
    )


# ---------------------------------------------------------------------------- order pages


def _first_at(record: NotificationRecord) -> float:
    return record.attempts[0].at if record.attempts else record.due_at


def _attempt_view(attempt: DeliveryAttempt, number: int, start: float) -> dict[str, Any]:
    return {
        "number": number,
        "attempt": attempt,
        "offset": attempt.at - start,
        "request": _pretty(attempt.request),
        "response": _pretty(attempt.response),
    }


def _notification_view(record: NotificationRecord, start: float) -> dict[str, Any]:
    return {
        "record": record,
        "data": _pretty(record.data) if record.fired or record.data else "",
        "attempts": [
            _attempt_view(attempt, number, start)
            for number, attempt in enumerate(record.attempts, start=1)
        ],
        "can_redeliver": record.fired,
    }


def _scenarios_for(order: Order) -> list[Scenario]:
    kind = "AccountPayout" if order.method == "Refund" else order.method
    return for_kind(order.method) or for_kind(kind)


@router.get("/inspector/orders/{order_id}", response_class=HTMLResponse)
def order_page(
    request: Request, order_id: str, refresh: int | None = Query(default=None, ge=0)
) -> HTMLResponse:
    """One order: its details, event log, notifications and every delivery attempt."""
    emulator = _emulator(request)
    store = emulator.store
    order = store.order(order_id)
    common = _common(emulator, request, _refresh(refresh), f"Order {order_id}")
    if order is None:
        return _render("inspector_missing.html", status_code=404, **common, order_id=order_id)
    records = sorted(store.notifications_of(order.order_id), key=_first_at)
    account = store.accounts.get(order.account_id or "")
    children = sorted(
        (o for o in store.orders.values() if o.parent_order_id == order.order_id),
        key=lambda o: o.created_at,
    )
    attributes = sorted(
        (key, value if isinstance(value, str) else json.dumps(value, default=str))
        for key, value in order.attributes.items()
        if key.lower() != "password"
    )
    choices = _scenarios_for(order)
    default = next((s.id for s in choices if s.default), choices[0].id if choices else None)
    return _render(
        "inspector_order.html",
        **common,
        order=order,
        attributes=attributes,
        account=account,
        children=children,
        notifications=[_notification_view(record, order.created_at) for record in records],
        completable=order.state in COMPLETABLE,
        scenarios=choices,
        default_scenario=default,
        scenario_title=_scenario_title(order.scenario),
        needs_amount=order.amount is None and order.method == "Deposit",
    )
