"""A wallet refuses to pay out more than it holds in every currency, whichever transfer opened
it (a customer registered in EUR gets a SEK wallet from their first SEK deposit)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import TRUSTLY, LedgerError, LedgerTransaction, Transfer, TransferKind
from fintrust.domain.ledger import wallet as wallet_of
from fintrust.domain.money import Money


def sek(amount: str) -> Money:
    return Money.of(amount, "SEK")


def record(engine: Engine, *transfers: Transfer) -> None:
    with SqlUnitOfWork(engine) as work:
        reference = str(uuid.uuid4())
        work.ledger.record(LedgerTransaction(reference, reference, transfers))
        work.commit()


def test_a_wallet_opened_by_its_first_credit_refuses_overdrafts(engine: Engine) -> None:
    wallet = wallet_of(7)
    record(engine, Transfer(str(uuid.uuid4()), TRUSTLY, wallet, sek("100.00")))
    with SqlUnitOfWork(engine) as work:
        assert work.ledger.balance(wallet, "SEK").no_overdraft
        assert not work.ledger.balance(TRUSTLY, "SEK").no_overdraft
    reserve = Transfer(str(uuid.uuid4()), wallet, TRUSTLY, sek("60.00"), TransferKind.PENDING)
    record(engine, reserve)
    with pytest.raises(LedgerError, match="overdrawn"):
        record(
            engine,
            Transfer(str(uuid.uuid4()), wallet, TRUSTLY, sek("60.00"), TransferKind.PENDING),
        )
    with SqlUnitOfWork(engine) as work:
        assert work.ledger.balance(wallet, "SEK").available == sek("40.00")
        assert work.ledger.verify() == []
