"""The API methods, with real state: orders, accounts, balances and the ledger."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from trustly_emulator import _payouts as payouts
from trustly_emulator._banks import clearing_house_bank, validate_account_number
from trustly_emulator._clock import trustly_timestamp
from trustly_emulator._state import Order
from trustly_emulator._validation import Params, RpcError, invalid

if TYPE_CHECKING:
    from trustly_emulator._emulator import Emulator

__all__ = ["HANDLERS"]


def _params(emulator: Emulator, data: Mapping[str, Any]) -> Params:
    return Params(data, require_tls=emulator.config.require_tls)


def _new_order(
    emulator: Emulator,
    merchant: str,
    method: str,
    params: Params,
    *,
    amount: Decimal | None,
    currency: str | None,
    account_id: str | None = None,
) -> Order:
    message_id = params.message_id()
    if (merchant, message_id) in emulator.store.message_ids:
        raise RpcError(637, "ERROR_DUPLICATE_MESSAGE_ID")
    order = Order(
        order_id=emulator.store.new_id(),
        merchant=merchant,
        method=method,
        message_id=message_id,
        end_user_id=params.end_user_id(),
        notification_url=params.notification_url(),
        currency=currency,
        amount=amount,
        attributes=dict(params.attributes),
        created_at=emulator.clock.now(),
        session_id=emulator.new_session_id(),
        account_id=account_id,
    )
    order.log(order.created_at, f"{method} created")
    emulator.add_order(order)
    return order


def deposit(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    params = _params(emulator, data)
    params.checkout_attributes()
    currency = params.currency(attribute=True)
    params.required_text("Firstname", attribute=True)
    params.required_text("Lastname", attribute=True)
    amount = params.amount(attribute=True, required=False)
    low = params.amount("SuggestedMinAmount", attribute=True, required=False)
    high = params.amount("SuggestedMaxAmount", attribute=True, required=False)
    if amount is not None and (low is not None or high is not None):
        raise invalid("Amount cannot be combined with SuggestedMinAmount/SuggestedMaxAmount")
    order = _new_order(emulator, merchant, "Deposit", params, amount=amount, currency=currency)
    return {"orderid": order.order_id, "url": emulator.checkout_url(order)}


def select_account(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    params = _params(emulator, data)
    params.checkout_attributes()
    order = _new_order(emulator, merchant, "SelectAccount", params, amount=None, currency=None)
    return {"orderid": order.order_id, "url": emulator.checkout_url(order)}


def withdraw(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    params = _params(emulator, data)
    currency = params.currency()
    params.checkout_attributes()
    amount = params.amount("SuggestedAmount", attribute=True, required=False)
    order = _new_order(emulator, merchant, "Withdraw", params, amount=amount, currency=currency)
    return {"orderid": order.order_id, "url": emulator.checkout_url(order)}


def account_payout(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    params = _params(emulator, data)
    amount = params.amount()
    currency = params.currency()
    params.required_text("ShopperStatement", attribute=True)
    account_id = params.required_text("AccountID")
    if account_id not in emulator.store.accounts:
        raise RpcError(624, "ERROR_INVALID_BANK_ACCOUNT_NUMBER", f"no account {account_id}")
    order = _new_order(
        emulator, merchant, "AccountPayout", params,
        amount=amount, currency=currency, account_id=account_id,
    )  # fmt: skip
    payouts.start_payout(emulator, order)
    return {"orderid": order.order_id, "result": "1"}


def register_account(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    params = _params(emulator, data)
    end_user_id = params.end_user_id()
    clearing_house = params.required_text("ClearingHouse").upper()
    bank_number = params.text("BankNumber", required=False) or ""
    account_number = params.required_text("AccountNumber").replace(" ", "")
    firstname = params.required_text("Firstname")
    lastname = params.text("Lastname", required=False) or ""
    bank = clearing_house_bank(clearing_house, bank_number, account_number)
    if bank is None:
        raise invalid(f"unknown ClearingHouse {clearing_house!r}")
    if not validate_account_number(clearing_house, bank_number, account_number):
        raise RpcError(624, "ERROR_INVALID_BANK_ACCOUNT_NUMBER")
    account = emulator.register_bank_account(
        end_user_id=end_user_id,
        bank=bank,
        clearing_house=clearing_house,
        bank_number=bank_number,
        account_number=account_number,
        holder=f"{firstname} {lastname}".strip(),
    )
    return {
        "accountid": account.account_id,
        "clearinghouse": account.clearing_house,
        "bank": account.bank,
        "descriptor": account.descriptor,
    }


def _order_id(params: Params) -> str:
    value = params.data.get("OrderID")
    if isinstance(value, bool) or not isinstance(value, str | int) or not str(value).isdigit():
        raise RpcError(655, "ERROR_INVALID_ORDER_ID")
    return str(value)


def refund(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    params = _params(emulator, data)
    deposit_order = emulator.store.order(_order_id(params))
    if (
        deposit_order is None
        or deposit_order.merchant != merchant
        or deposit_order.method != "Deposit"
    ):
        raise RpcError(655, "ERROR_INVALID_ORDER_ID")
    amount = params.amount()
    assert amount is not None
    if params.currency() != deposit_order.currency:
        raise RpcError(622, "ERROR_INVALID_CURRENCY_CODE", "not the deposit's currency")
    if deposit_order.refunded + amount > deposit_order.credited:
        raise RpcError(615, "ERROR_INVALID_AMOUNT", "more than the settled deposit left to refund")
    payouts.start_refund(emulator, deposit_order, amount)
    return {"orderid": deposit_order.order_id, "result": "1"}


def _withdraw_order(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> Order:
    params = _params(emulator, data)
    try:
        order = emulator.store.order(_order_id(params))
    except RpcError:
        order = None
    if order is None or order.merchant != merchant or order.method != "Withdraw":
        raise RpcError(620, "ERROR_NOT_FOUND")
    return order


def approve_withdrawal(
    emulator: Emulator, merchant: str, data: Mapping[str, Any]
) -> dict[str, str]:
    order = _withdraw_order(emulator, merchant, data)
    accepted = payouts.decide_withdrawal(emulator, order, approve=True)
    return {"orderid": order.order_id, "result": "1" if accepted else "0"}


def deny_withdrawal(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    order = _withdraw_order(emulator, merchant, data)
    accepted = payouts.decide_withdrawal(emulator, order, approve=False)
    return {"orderid": order.order_id, "result": "1" if accepted else "0"}


PAYOUT_METHODS: Final = ("AccountPayout", "Withdraw", "Refund")


def get_withdrawals(
    emulator: Emulator, merchant: str, data: Mapping[str, Any]
) -> list[dict[str, Any]]:
    order = emulator.store.order(_order_id(_params(emulator, data)))
    if order is None or order.merchant != merchant or order.method not in PAYOUT_METHODS:
        raise RpcError(655, "ERROR_INVALID_ORDER_ID")
    if order.transfer_state is None:  # a Withdraw the end user has not finished yet
        return []
    return [
        {
            "reference": order.order_id[::-1],
            "modificationdate": trustly_timestamp(order.modified_at),
            "orderid": order.order_id,
            "datestamp": trustly_timestamp(order.created_at),
            "transferstate": order.transfer_state,
            "amount": f"{order.amount:.2f}" if order.amount is not None else None,
            "accountid": order.account_id,
            "currency": order.currency,
            "eta": None,
        }
    ]


def balance(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> list[dict[str, str]]:
    balances = emulator.store.merchants[merchant].balances
    return [{"currency": c, "balance": f"{balances[c]:.2f}"} for c in sorted(balances)]


def _entries_between(
    emulator: Emulator, merchant: str, start: dt.date, end: dt.date, currency: str | None
) -> list[Any]:
    chosen = []
    for entry in emulator.store.ledger:
        day = dt.datetime.fromtimestamp(entry.at, dt.UTC).date()
        if entry.merchant == merchant and start <= day < end and currency in (None, entry.currency):
            chosen.append(entry)
    return chosen


def account_ledger(
    emulator: Emulator, merchant: str, data: Mapping[str, Any]
) -> list[dict[str, str]]:
    params = _params(emulator, data)
    start = dt.date.fromisoformat(params.date("FromDate"))
    end = dt.date.fromisoformat(params.date("ToDate"))
    currency = params.currency() if data.get("Currency") is not None else None
    return [
        {
            "userid": entry.end_user_id,
            "datestamp": trustly_timestamp(entry.at),
            "orderid": entry.order_id,
            "accountname": entry.account_name,
            "messageid": entry.message_id,
            "transactiontype": entry.transaction_type,
            "currency": entry.currency,
            "amount": f"{entry.amount:.2f}",
            "gluepayid": entry.gluepay_id,
        }
        for entry in _entries_between(emulator, merchant, start, end, currency)
    ]


SETTLEMENT_COLUMNS: Final = (
    "datestamp", "accountname", "currency", "amount", "total", "orderid", "ordertype",
    "messageid", "username", "fxpaymentamount", "fxpaymentcurrency",
    "settlementbankwithdrawalid", "extraref",
)  # fmt: skip


def settlement_report(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, str]:
    """The day before SettlementDate, as one automatic settlement would cover it."""
    params = _params(emulator, data)
    day = dt.date.fromisoformat(params.date("SettlementDate")) - dt.timedelta(days=1)
    currency = params.currency() if data.get("Currency") is not None else None
    version = params.attributes.get("APIVersion")
    if version != "1.2":
        raise invalid("Attributes.APIVersion must be '1.2'")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SETTLEMENT_COLUMNS)
    total = Decimal(0)
    for entry in _entries_between(emulator, merchant, day, day + dt.timedelta(days=1), currency):
        total += entry.amount
        order = emulator.store.order(entry.order_id)
        writer.writerow(
            [
                trustly_timestamp(entry.at), entry.account_name, entry.currency,
                f"{entry.amount:.2f}", f"{total:.2f}", entry.order_id, entry.transaction_type,
                entry.message_id, merchant, "", "", "",
                (order.attributes.get("ExternalReference") or "") if order else "",
            ]
        )  # fmt: skip
    return {"view_automatic_settlement_details": out.getvalue()}


def charge(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, Any]:
    # Trustly Direct Debit is not offered to new merchants, and not emulated.
    return {"orderid": None, "result": "0", "rejected": "ERROR_DIRECT_DEBIT_NOT_ALLOWED"}


def cancel_charge(emulator: Emulator, merchant: str, data: Mapping[str, Any]) -> dict[str, Any]:
    return {"result": "0", "rejected": "ERROR_CHARGE_NOT_FOUND"}


HANDLERS: Final = {
    "Deposit": deposit,
    "SelectAccount": select_account,
    "Withdraw": withdraw,
    "AccountPayout": account_payout,
    "RegisterAccount": register_account,
    "Refund": refund,
    "ApproveWithdrawal": approve_withdrawal,
    "DenyWithdrawal": deny_withdrawal,
    "GetWithdrawals": get_withdrawals,
    "Balance": balance,
    "AccountLedger": account_ledger,
    "ViewAutomaticSettlementDetailsCSV": settlement_report,
    "Charge": charge,
    "CancelCharge": cancel_charge,
}
