"""The ledger in SQLite and PostgreSQL: append-only, exactly-once, balances verified."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from fintrust.adapters.db.ledger import AlreadyRecordedError
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


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def tid() -> str:
    return str(uuid.uuid4())


def record(engine: Engine, reference: str, *transfers: Transfer, enforce: bool = True) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.ledger.record(
            LedgerTransaction(reference, reference, transfers), enforce_no_overdraft=enforce
        )
        uow.commit()


def open_wallet(engine: Engine, customer: int) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.ledger.account(wallet(customer), "EUR", no_overdraft=True)
        uow.commit()


def test_credit_reserve_post_and_verify(engine: Engine) -> None:
    open_wallet(engine, 1)
    record(engine, "deposit:1", Transfer(tid(), TRUSTLY, wallet(1), eur("10.00")))
    reserve = Transfer(tid(), wallet(1), TRUSTLY, eur("4.00"), TransferKind.PENDING)
    record(engine, "payout:1:reserve", reserve)
    with SqlUnitOfWork(engine) as uow:
        balance = uow.ledger.balance(wallet(1), "EUR")
        assert (balance.posted, balance.available) == (eur("10.00"), eur("6.00"))
    record(
        engine,
        "payout:1:post",
        Transfer(tid(), wallet(1), TRUSTLY, eur("4.00"), TransferKind.POST, reserve.id),
    )
    with SqlUnitOfWork(engine) as uow:
        assert uow.ledger.balance(wallet(1), "EUR").posted == eur("6.00")
        assert uow.ledger.balance(TRUSTLY, "EUR").posted == eur("6.00")
        assert uow.ledger.verify() == []


def test_the_same_event_cannot_be_recorded_twice(engine: Engine) -> None:
    record(engine, "deposit:1", Transfer(tid(), TRUSTLY, wallet(1), eur("10.00")))
    with pytest.raises(AlreadyRecordedError):
        record(engine, "deposit:1", Transfer(tid(), TRUSTLY, wallet(1), eur("10.00")))
    with SqlUnitOfWork(engine) as uow:
        assert uow.ledger.balance(wallet(1), "EUR").posted == eur("10.00")


def test_a_pending_transfer_settles_once(engine: Engine) -> None:
    open_wallet(engine, 1)
    record(engine, "deposit:1", Transfer(tid(), TRUSTLY, wallet(1), eur("10.00")))
    reserve = Transfer(tid(), wallet(1), TRUSTLY, eur("4.00"), TransferKind.PENDING)
    record(engine, "reserve", reserve)
    record(
        engine,
        "void",
        Transfer(tid(), wallet(1), TRUSTLY, eur("4.00"), TransferKind.VOID, reserve.id),
    )
    with pytest.raises(LedgerError, match="exists already"):
        record(
            engine,
            "post",
            Transfer(tid(), wallet(1), TRUSTLY, eur("4.00"), TransferKind.POST, reserve.id),
        )
    with SqlUnitOfWork(engine) as uow:
        assert uow.ledger.balance(wallet(1), "EUR").available == eur("10.00")
        assert uow.ledger.verify() == []


def test_no_overdraft_is_enforced_in_the_database(engine: Engine) -> None:
    open_wallet(engine, 1)
    record(engine, "deposit:1", Transfer(tid(), TRUSTLY, wallet(1), eur("10.00")))
    with pytest.raises(LedgerError, match="overdrawn"):
        record(
            engine,
            "too-much",
            Transfer(tid(), wallet(1), TRUSTLY, eur("10.01"), TransferKind.PENDING),
        )
    # Taking back a credit is allowed to overdraw (the wallet is then frozen for payouts).
    record(engine, "debit", Transfer(tid(), wallet(1), TRUSTLY, eur("15.00")), enforce=False)
    with SqlUnitOfWork(engine) as uow:
        assert uow.ledger.balance(wallet(1), "EUR").posted == eur("-5.00")


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE ledger_transfers SET amount = 1",
        "DELETE FROM ledger_transfers",
        "UPDATE ledger_transactions SET description = 'x'",
    ],
)
def test_the_ledger_is_append_only(engine: Engine, statement: str) -> None:
    record(engine, "deposit:1", Transfer(tid(), TRUSTLY, wallet(1), eur("10.00")))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(statement))


def test_verify_reports_a_tampered_balance(engine: Engine) -> None:
    record(engine, "deposit:1", Transfer(tid(), TRUSTLY, wallet(1), eur("10.00")))
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE ledger_accounts SET credits_posted = 999 WHERE code = :c"),
            {"c": wallet(1)},
        )
    with SqlUnitOfWork(engine) as uow:
        [mismatch] = uow.ledger.verify()
    assert (mismatch.code, mismatch.field, mismatch.stored, mismatch.recomputed) == (
        wallet(1),
        "credits_posted",
        999,
        1000,
    )


def test_leaving_without_commit_changes_nothing(engine: Engine) -> None:
    with SqlUnitOfWork(engine) as uow:
        uow.ledger.record(
            LedgerTransaction("r", "r", (Transfer(tid(), TRUSTLY, wallet(1), eur("1.00")),))
        )
    with SqlUnitOfWork(engine) as uow:
        assert uow.ledger.accounts() == []
