"""Payout destinations: bank accounts from SelectAccount (the customer picks and verifies one in
Trustly's checkout; the AccountID arrives by notification) or RegisterAccount (known details,
checked for format, answered at once)."""

from __future__ import annotations

import uuid as uuid_module
from collections.abc import Callable

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.services.customers import CustomerNotFoundError
from fintrust.services.outbox import send_now
from fintrust.trustly import TrustlyClient

__all__ = ["register_bank_account", "start_select_account"]

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]


def start_select_account(
    uow: UnitOfWorkFactory,
    *,
    customer_id: int,
    notification_url: str,
    success_url: str,
    fail_url: str,
) -> tuple[int, int]:
    """Write a SelectAccount order and its call; returns (order id, outbox id). The account is
    stored when its ``account`` notification arrives, not on the redirect to SuccessURL."""
    with uow() as work:
        customer = work.customers.get(customer_id)
        if customer is None:
            raise CustomerNotFoundError(customer_id)
        message_id = f"select-{uuid_module.uuid4()}"
        order_id = work.orders.add(
            kind="select_account",
            product="wallet",
            customer_id=customer_id,
            message_id=message_id,
            currency="EUR",  # no money moves; the column is required
            state="created",
        )
        attributes = {
            "Country": customer.country,
            "Locale": customer.locale,
            "Firstname": customer.firstname,
            "Lastname": customer.lastname,
            "SuccessURL": success_url,
            "FailURL": fail_url,
            "URLTarget": "_top",
        }
        if customer.email:
            attributes["Email"] = customer.email
        data = {
            "NotificationURL": notification_url,
            "EndUserID": customer.end_user_id,
            "MessageID": message_id,
            "Attributes": attributes,
        }
        outbox_id = work.outbox.add("SelectAccount", str(uuid_module.uuid4()), data, order_id)
        work.commit()
    return order_id, outbox_id


def register_bank_account(
    uow: UnitOfWorkFactory,
    client: TrustlyClient,
    *,
    customer_id: int,
    clearing_house: str,
    bank_number: str,
    account_number: str,
) -> str:
    """RegisterAccount known bank details and store the AccountID as a payout destination.
    Trustly answers the same AccountID for the same details, so this is safe to repeat."""
    with uow() as work:
        customer = work.customers.get(customer_id)
        if customer is None:
            raise CustomerNotFoundError(customer_id)
        data = {
            "EndUserID": customer.end_user_id,
            "ClearingHouse": clearing_house,
            "BankNumber": bank_number,
            "AccountNumber": account_number,
            "Firstname": customer.firstname,
            "Lastname": customer.lastname,
        }
        outbox_id = work.outbox.add("RegisterAccount", str(uuid_module.uuid4()), data, None)
        work.commit()
    if send_now(uow, client, outbox_id) != "done":
        with uow() as work:
            error = work.outbox.get(outbox_id)
        raise ValueError(f"RegisterAccount failed: {error.last_error if error else 'unknown'}")
    with uow() as work:
        stored = work.outbox.get(outbox_id)
        assert stored is not None
        result = stored.result_data
        work.bank_accounts.save(
            customer_id,
            str(result["accountid"]),
            bank=result.get("bank"),
            clearing_house=result.get("clearinghouse"),
            descriptor=result.get("descriptor"),
            last_digits=str(result.get("descriptor") or "")[-4:] or None,
            verified=True,  # the format is checked; the account itself is the customer's word
            source="register",
        )
        work.commit()
    return str(result["accountid"])
