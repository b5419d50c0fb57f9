"""What each scenario event does when it happens: its effect on the order and the merchant's
balance at "Trustly", and the data of the notification that tells the merchant about it."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from trustly_emulator._clock import trustly_timestamp
from trustly_emulator._state import LedgerEntry, NotificationRecord, Order, Store

__all__ = ["apply_event", "book", "notification_data"]

_PAYOUT_ERRORS = {
    "incorrect_account_number": "Format of the account number specified is not correct",
    "account_closed": "The receiving account is closed",
    "insufficient_funds": "Not enough funds on the merchant's Trustly account",
}


def event_amount(order: Order, record: NotificationRecord) -> Decimal:
    base = order.amount if order.amount is not None else Decimal(0)
    return (base * Decimal(record.amount_factor)).quantize(Decimal("0.01"))


def apply_event(store: Store, order: Order, record: NotificationRecord, now: float) -> None:
    """Apply ``record``'s event to the emulator's state, once, when it happens."""
    method = record.method
    order.log(now, f"{method} happened")
    if order.method == "Deposit":
        _deposit_event(store, order, record, now)
    elif order.method in ("AccountPayout", "Refund", "Withdraw"):
        _payout_event(store, order, record, now)
    elif order.method == "SelectAccount" and method == "cancel":
        order.state = "cancelled"
    elif method == "account":
        order.state = "account selected"
    if method == "account" and order.account_id:
        store.last_account[(order.merchant, order.end_user_id)] = order.account_id


def book(store: Store, order: Order, amount: Decimal, kind: str, now: float) -> None:
    store.move(
        LedgerEntry(
            at=now,
            merchant=order.merchant,
            order_id=order.order_id,
            message_id=order.message_id,
            end_user_id=order.end_user_id,
            account_name="SUSPENSE_ACCOUNT_CLIENT_FUNDS",
            transaction_type=kind,
            currency=order.currency or "EUR",
            amount=amount,
            gluepay_id=store.new_id(),
        )
    )


def _deposit_event(store: Store, order: Order, record: NotificationRecord, now: float) -> None:
    if record.method == "pending" and order.state in ("created", "checkout"):
        order.state = "pending"
    elif record.method == "credit":
        amount = event_amount(order, record)
        book(store, order, amount, "Deposit", now)
        order.credited += amount
        order.state = "credited"
    elif record.method == "debit":
        amount = min(event_amount(order, record), order.credited)
        book(store, order, -amount, "Deposit reversal", now)
        order.credited -= amount
        order.state = "debited"
    elif record.method == "cancel" and order.state != "credited":
        order.state = "cancelled"


def _payout_event(store: Store, order: Order, record: NotificationRecord, now: float) -> None:
    method = record.method
    if method == "payoutconfirmation":
        order.transfer_state = "CONFIRMED"
        order.state = "confirmed"
    elif method == "payoutfailed":
        order.payout_error = record.error_code
        order.transfer_state = "RETURNED" if order.transfer_state == "CONFIRMED" else "FAILED"
    elif method == "credit":  # the money comes back (failed, returned or denied)
        if order.paid_out:
            book(store, order, order.amount or Decimal(0), f"{order.method} returned", now)
            order.paid_out = False
        if order.transfer_state not in ("RETURNED", None):
            order.transfer_state = "RETURNED" if order.transfer_state == "CONFIRMED" else "FAILED"
        order.state = "credited back"
    elif method == "cancel":
        if order.paid_out:
            book(store, order, order.amount or Decimal(0), f"{order.method} cancelled", now)
            order.paid_out = False
        if order.transfer_state is not None:
            order.transfer_state = "FAILED"
        order.state = "cancelled"
    elif method == "debit":  # Withdraw: the end user confirmed it in the checkout
        order.state = "awaiting approval"


def notification_data(
    store: Store, order: Order, record: NotificationRecord, now: float
) -> dict[str, Any]:
    """The notification's ``data``, built once when its event happens (kept for re-delivery)."""
    common = {
        "messageid": order.message_id,
        "orderid": order.order_id,
        "notificationid": record.notification_id,
    }
    method = record.method
    if method == "account":
        account = store.accounts.get(order.account_id or "")
        return {
            **common,
            "accountid": order.account_id,
            "verified": "1",
            "attributes": {
                "clearinghouse": account.clearing_house if account else "",
                "bank": account.bank if account else "",
                "descriptor": account.descriptor if account else "",
                "lastdigits": account.last_digits if account else "",
            },
        }
    if method == "kyc":
        return {
            **common,
            "kycentityid": store.new_id(),
            "attributes": {
                "personid": order.attributes.get("NationalIdentificationNumber") or "",
                "firstname": order.attributes.get("Firstname") or "",
                "lastname": order.attributes.get("Lastname") or "",
                "dob": order.attributes.get("DateOfBirth") or "",
                "street": "",
                "zipcode": "",
                "city": "",
                "country": order.attributes.get("Country") or "",
            },
        }
    data: dict[str, Any] = {
        **common,
        "enduserid": order.end_user_id,
        "timestamp": trustly_timestamp(now),
    }
    if method in ("pending", "credit", "debit", "payoutconfirmation", "payoutfailed"):
        data["amount"] = (
            f"{event_amount(order, record) if order.method == 'Deposit' else order.amount or 0:.2f}"
        )
        data["currency"] = order.currency
    if method == "payoutfailed":
        code = record.error_code or "incorrect_account_number"
        data["errorcode"] = code
        data["errormessage"] = _PAYOUT_ERRORS.get(code, code.replace("_", " "))
    data["attributes"] = {}
    return data
