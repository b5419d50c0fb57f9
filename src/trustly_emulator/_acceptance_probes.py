"""Built-in acceptance checks beyond the catalogue: notifications a merchant must refuse."""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from fintrust.trustly import (
    Signer,
    Verifier,
    build_notification,
    decode_json,
    encode_json,
    generate_key_pair,
)
from trustly_emulator._acceptance_checks import reply_status
from trustly_emulator._acceptance_hook import HookOrder
from trustly_emulator._acceptance_report import AttemptReport, Check, SentNotification
from trustly_emulator._emulator import Emulator

if TYPE_CHECKING:
    from trustly_emulator.acceptance import AcceptanceConfig

__all__ = ["PROBES", "run_probe"]

_HEADERS = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "trustly-emulator"}


def _forged(method: str, uuid: str, data: dict[str, Any], emulator: Emulator) -> tuple[bytes, str]:
    other = Signer.from_pem(generate_key_pair()[0])
    return build_notification(method, uuid, data, other), "signed with another key"


def _tampered(
    method: str, uuid: str, data: dict[str, Any], emulator: Emulator
) -> tuple[bytes, str]:
    message = decode_json(build_notification(method, uuid, data, emulator.keys.signer))
    signed = Decimal(str(data["amount"]))
    message["params"]["data"]["amount"] = f"{signed * 100:.2f}"
    return encode_json(
        message
    ), f"amount changed from {signed:.2f} to {signed * 100:.2f} after signing"


Tamper = Callable[[str, str, dict[str, Any], Emulator], tuple[bytes, str]]
PROBES: dict[str, tuple[str, Tamper]] = {
    "forged-signature": ("A credit notification signed with another key is refused", _forged),
    "tampered-notification": (
        "A credit notification changed after it was signed is refused",
        _tampered,
    ),
}


async def run_probe(
    probe_id: str,
    *,
    emulator: Emulator,
    config: AcceptanceConfig,
    info: HookOrder,
    http: httpx.AsyncClient,
    verifier: Verifier,
    synthetic: bool,
) -> tuple[Check, SentNotification]:
    """Send one bad credit notification for ``info``'s order; it must not get a valid OK."""
    order = emulator.adopt_order(
        merchant=config.merchant_username,
        method="Deposit",
        order_id=info.order_id,
        message_id=info.message_id,
        end_user_id=info.end_user_id,
        notification_url=config.notification_url,
        amount=info.amount or config.amount,
        currency=info.currency or config.currency,
    )
    record = emulator.custom_notification("credit", {}, order_id=order.order_id)
    body, what = PROBES[probe_id][1]("credit", record.uuid, record.data, emulator)
    attempt = await _post(http, config.notification_url, body, record.uuid, verifier)
    sent = SentNotification("credit", record.notification_id, record.uuid, "probe", (attempt,))
    expected = "refused (no valid OK reply; e.g. HTTP 400) and nothing booked"
    if attempt.reply_status == "OK":
        actual = "answered with a valid signed OK: the merchant accepted it"
    else:
        actual = f"refused ({attempt.verdict})"
        if synthetic:
            actual += "; the order is synthetic, so it may have been refused for that alone"
    name = f"credit {what}"
    return Check(name, expected, actual, attempt.reply_status != "OK"), sent


async def _post(
    http: httpx.AsyncClient, url: str, body: bytes, uuid: str, verifier: Verifier
) -> AttemptReport:
    try:
        response = await http.post(url, content=body, headers=_HEADERS)
    except httpx.HTTPError as exc:
        verdict = f"no reply: {type(exc).__name__}: {exc}"
        return AttemptReport(time.time(), None, verdict, None)
    text = response.text[:2000]
    status = reply_status(text, "credit", uuid, verifier)
    if status is not None:
        verdict = f"valid reply (HTTP {response.status_code}): {status}"
    else:
        verdict = f"HTTP {response.status_code}, no valid signed reply"
    return AttemptReport(time.time(), response.status_code, verdict, status, text[:500])
