"""Customers: one EndUserID each, stable for life, and a wallet per currency."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import AccountBalance, wallet

__all__ = ["CustomerNotFoundError", "Wallet", "register_customer", "wallet_of"]

UnitOfWorkFactory = Callable[[], SqlUnitOfWork]


class CustomerNotFoundError(LookupError):
    pass


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
        """A wallet taken below zero (a deposit reversed after use) pays nothing out."""
        return self.balance.posted.minor < 0


def wallet_of(work: SqlUnitOfWork, customer_id: int, currency: str) -> Wallet:
    return Wallet(work.ledger.balance(wallet(customer_id), currency))
