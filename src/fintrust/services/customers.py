"""Customers: one EndUserID each, stable for life, and a wallet per currency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import AccountBalance, wallet

__all__ = [
    "CustomerExistsError",
    "CustomerNotFoundError",
    "Wallet",
    "register_customer",
    "wallet_of",
]

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]


class CustomerNotFoundError(LookupError):
    pass


class CustomerExistsError(ValueError):
    """An EndUserID identifies one customer for life: it cannot be registered twice."""


def register_customer(
    uow: UnitOfWorkFactory,
    *,
    end_user_id: str,
    firstname: str,
    lastname: str,
    country: str,
    locale: str,
    currency: str,
    email: str | None = None,
    national_id: str | None = None,
) -> int:
    """A new customer with an empty wallet that can never pay out more than it holds."""
    with uow() as work:
        if work.customers.by_end_user_id(end_user_id) is not None:
            raise CustomerExistsError(f"a customer with EndUserID {end_user_id!r} exists")
        customer_id = work.customers.add(
            end_user_id=end_user_id,
            name=f"{firstname} {lastname}".strip(),
            firstname=firstname,
            lastname=lastname,
            email=email,
            country=country,
            locale=locale,
            national_id=national_id,
        )
        work.ledger.account(wallet(customer_id), currency, no_overdraft=True)
        work.commit()
    return customer_id


@dataclass(frozen=True)
class Wallet:
    balance: AccountBalance

    @property
    def frozen(self) -> bool:
        """A wallet taken below zero (a deposit reversed after use, possibly while a payout was
        reserved) pays nothing out until money comes in again."""
        return self.balance.available.minor < 0


def wallet_of(work: SqlUnitOfWork, customer_id: int, currency: str) -> Wallet:
    return Wallet(work.ledger.balance(wallet(customer_id), currency))
