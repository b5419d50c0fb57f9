"""The merchant's acceptance hook (see :mod:`trustly_emulator.acceptance` for the contract), and
the synthetic orders used without one."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

__all__ = ["Books", "Hook", "HookError", "HookOrder", "NotSupportedError", "synthetic_order"]


class HookError(Exception):
    """The hook did not answer as the contract says."""


class NotSupportedError(Exception):
    """The merchant does not do this kind of order (the hook answered 501)."""


@dataclass(frozen=True)
class HookOrder:
    order_id: str
    message_id: str
    end_user_id: str
    amount: Decimal | None
    currency: str | None


@dataclass(frozen=True)
class Books:
    """An end user's state at the merchant."""

    balance: Decimal
    accounts: frozenset[str]
    suspense: Decimal | None  # None: the hook does not report it


def synthetic_order(number: int, amount: Decimal | None, currency: str | None) -> HookOrder:
    """An order the merchant never created (no hook): a merchant that checks will refuse it."""
    return HookOrder(
        order_id=str(1_000_000_000 + secrets.randbelow(9_000_000_000)),
        message_id=f"acceptance-{number}",
        end_user_id=f"acceptance-user-{number}",
        amount=amount,
        currency=currency,
    )


class Hook:
    def __init__(self, http: httpx.AsyncClient, url: str) -> None:
        self.http = http
        self.url = url.rstrip("/")

    async def create_order(
        self, kind: str, amount: Decimal, currency: str, scenario: str
    ) -> HookOrder:
        body = {"kind": kind, "amount": f"{amount:.2f}", "currency": currency, "scenario": scenario}
        response = await self._call("POST", "/orders", json=body)
        if response.status_code == 501:
            raise NotSupportedError(_reason(response) or f"the merchant does not do {kind} orders")
        raw = _json_object(response, "POST /orders")
        try:
            return HookOrder(
                order_id=_text(raw, "orderid"),
                message_id=_text(raw, "messageid"),
                end_user_id=_text(raw, "enduserid"),
                amount=_decimal(raw.get("amount"), "amount", optional=True),
                currency=None if raw.get("currency") is None else str(raw["currency"]),
            )
        except ValueError as exc:
            raise HookError(f"POST /orders: {exc}; got {_excerpt(response)}") from None

    async def books(self, end_user_id: str, currency: str) -> Books:
        params = {"enduserid": end_user_id, "currency": currency}
        response = await self._call("GET", "/state", params=params)
        raw = _json_object(response, "GET /state")
        try:
            accounts = raw.get("accounts", [])
            if not isinstance(accounts, list):
                raise ValueError("'accounts' must be a list of account ids")
            suspense = _decimal(raw.get("suspense"), "suspense", optional=True)
            return Books(
                balance=_decimal(raw.get("balance"), "balance", optional=False) or Decimal(0),
                accounts=frozenset(str(a) for a in accounts),
                suspense=suspense,
            )
        except ValueError as exc:
            raise HookError(f"GET /state: {exc}; got {_excerpt(response)}") from None

    async def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, self.url + path, **kwargs)
        except httpx.HTTPError as exc:
            raise HookError(
                f"{method} {self.url}{path}: no answer ({type(exc).__name__}: {exc})"
            ) from None


def _json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise HookError(f"{what} answered HTTP {response.status_code}: {_excerpt(response)}")
    try:
        raw = response.json()
    except ValueError:
        raise HookError(f"{what} did not answer JSON: {_excerpt(response)}") from None
    if not isinstance(raw, dict):
        raise HookError(f"{what} must answer a JSON object, got {_excerpt(response)}")
    return raw


def _text(raw: dict[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None or value == "":
        raise ValueError(f"'{key}' is missing")
    return str(value)


def _decimal(value: Any, key: str, *, optional: bool) -> Decimal | None:
    if value is None:
        if optional:
            return None
        raise ValueError(f"'{key}' is missing")
    if isinstance(value, bool | float):
        raise ValueError(f"'{key}' must be a decimal string, got {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"'{key}' is not a decimal amount: {value!r}") from None


def _reason(response: httpx.Response) -> str:
    try:
        raw = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if isinstance(raw, dict):
        for key in ("reason", "detail", "error", "message"):
            if isinstance(raw.get(key), str):
                return str(raw[key])
    return response.text.strip()[:200]


def _excerpt(response: httpx.Response) -> str:
    text = response.text.strip()
    return repr(text[:200] + ("…" if len(text) > 200 else ""))
