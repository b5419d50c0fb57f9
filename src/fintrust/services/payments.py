"""Starting money movements: a Deposit the customer completes in Trustly's checkout, and a
withdrawal paid out by AccountPayout to the account the customer deposited from.

Every call to Trustly is first an outbox row written in the business transaction, with its
MessageID and UUID; it is then sent (at once for a Deposit, whose URL the customer waits for;
by the worker for a payout). Re-sending is always the identical request.
"""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import (
    TRUSTLY,
    LedgerError,
    LedgerTransaction,
    Transfer,
    TransferKind,
    wallet,
)
from fintrust.domain.money import Money
from fintrust.services.customers import CustomerNotFoundError, wallet_of
from fintrust.trustly import format_amount

__all__ = [
    "DepositStart",
    "WithdrawalRefusedError",
    "deposit_request_data",
    "request_withdrawal",
    "start_deposit",
]

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]


class WithdrawalRefusedError(ValueError):
    """The customer cannot withdraw this (no account, not enough money, frozen wallet)."""


@dataclass(frozen=True)
class DepositStart:
    order_id: int
    outbox_id: int
    message_id: str


def start_deposit(
    uow: UnitOfWorkFactory,
    *,
    customer_id: int,
    amount: Money,
    notification_url: str,
    success_url: str,
    fail_url: str,
    shopper_statement: str,
    ip: str | None = None,
) -> DepositStart:
    """Write the deposit order and its Deposit call; the caller sends it (``send_now``).

    ``success_url`` and ``fail_url`` may name the new order as ``{order_id}``: the order's id
    exists only inside this transaction, and the customer's return page needs it.
    """
    with uow() as work:
        customer = work.customers.get(customer_id)
        if customer is None:
            raise CustomerNotFoundError(customer_id)
        message_id = f"deposit-{uuid_module.uuid4()}"
        order_id = work.orders.add(
            kind="deposit",
            product="wallet",
            customer_id=customer_id,
            message_id=message_id,
            currency=amount.currency,
            amount=amount.minor,
            state="created",
        )
        # Trustly Express needs the AccountID of the customer's last *deposit* account, which
        # only an account notification gives (a registered account was never paid from).
        deposited_from = [
            a for a in work.bank_accounts.of_customer(customer_id) if a.source == "notification"
        ]
        data = deposit_request_data(
            customer,
            amount,
            message_id=message_id,
            notification_url=notification_url,
            success_url=success_url.replace("{order_id}", str(order_id)),
            fail_url=fail_url.replace("{order_id}", str(order_id)),
            shopper_statement=shopper_statement,
            express_account=deposited_from[0].account_id if deposited_from else None,
            ip=ip,
        )
        outbox_id = work.outbox.add("Deposit", str(uuid_module.uuid4()), data, order_id)
        work.commit()
    return DepositStart(order_id, outbox_id, message_id)


def deposit_request_data(
    customer: Any,
    amount: Money,
    *,
    message_id: str,
    notification_url: str,
    success_url: str,
    fail_url: str,
    shopper_statement: str,
    express_account: str | None,
    ip: str | None,
) -> dict[str, Any]:
    """The Deposit ``Data`` (credentials are added by the client).

    Returning customers pay with Trustly Express: the AccountID of their last account and the
    same EndUserID; the national identification number is sent for Sweden only (methods §4.6).
    """
    attributes: dict[str, Any] = {
        "Currency": amount.currency,
        "Amount": format_amount(amount.amount, amount.currency),
        "Firstname": customer.firstname,
        "Lastname": customer.lastname,
        "Country": customer.country,
        "Locale": customer.locale,
        "ShopperStatement": shopper_statement,
        "SuccessURL": success_url,
        "FailURL": fail_url,
        "URLTarget": "_top",  # the checkout sits in our iframe: break out on success
    }
    if customer.email:
        attributes["Email"] = customer.email
    if ip:
        attributes["IP"] = ip
    if express_account:
        attributes["AccountID"] = express_account
    if customer.national_id and customer.country == "SE":
        attributes["NationalIdentificationNumber"] = customer.national_id
    return {
        "NotificationURL": notification_url,
        "EndUserID": customer.end_user_id,
        "MessageID": message_id,
        "Attributes": attributes,
    }


def request_withdrawal(
    uow: UnitOfWorkFactory,
    *,
    customer_id: int,
    amount: Money,
    notification_url: str,
    shopper_statement: str,
) -> int:
    """Reserve ``amount`` in the wallet and write the AccountPayout to the account the customer
    deposited from (closed loop). Returns the payout order's id."""
    if not amount.is_positive:
        raise WithdrawalRefusedError("the amount must be greater than zero")
    with uow() as work:
        customer = work.customers.get(customer_id)
        if customer is None:
            raise CustomerNotFoundError(customer_id)
        # Closed loop: pay back to the account the customer deposited from (account
        # notifications), else to a verified account they registered or selected.
        accounts = sorted(
            (a for a in work.bank_accounts.of_customer(customer_id) if a.verified),
            key=lambda a: a.source != "notification",
        )
        if not accounts:
            raise WithdrawalRefusedError(
                "no verified bank account yet: a completed deposit gives us the account to pay"
            )
        current = wallet_of(work, customer_id, amount.currency)
        if current.frozen:
            raise WithdrawalRefusedError("the wallet is below zero and frozen for withdrawals")
        if current.balance.available < amount:
            raise WithdrawalRefusedError(
                f"only {current.balance.available} is available to withdraw"
            )
        message_id = f"payout-{uuid_module.uuid4()}"
        reservation = Transfer(
            str(uuid_module.uuid4()), wallet(customer_id), TRUSTLY, amount, TransferKind.PENDING
        )
        try:
            work.ledger.record(
                LedgerTransaction(
                    f"{message_id}:reserve", f"withdrawal {message_id}", (reservation,)
                )
            )
        except LedgerError as exc:  # a concurrent withdrawal took the money first
            raise WithdrawalRefusedError(str(exc)) from None
        destination = accounts[0].account_id
        order_id = work.orders.add(
            kind="payout",
            product="wallet",
            customer_id=customer_id,
            message_id=message_id,
            currency=amount.currency,
            amount=amount.minor,
            state="requested",
            account_id=destination,
            pending_transfer_id=reservation.id,
        )
        data = {
            "NotificationURL": notification_url,
            "AccountID": destination,
            "EndUserID": customer.end_user_id,
            "MessageID": message_id,
            "Amount": format_amount(amount.amount, amount.currency),
            "Currency": amount.currency,
            "Attributes": {"ShopperStatement": shopper_statement},
        }
        work.outbox.add("AccountPayout", str(uuid_module.uuid4()), data, order_id)
        work.commit()
    return order_id
