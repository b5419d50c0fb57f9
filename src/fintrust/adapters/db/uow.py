"""The unit of work: one database transaction for one request or one job.

    with SqlUnitOfWork(engine) as uow:
        ... uow.ledger.record(...); uow.orders.save(...)
        uow.commit()

Leaving the block without ``commit()`` (or with an exception) rolls everything back.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType

from sqlalchemy import Connection, Engine

from fintrust.adapters.db import bulk
from fintrust.adapters.db.engine import READ_ONLY
from fintrust.adapters.db.ledger import LedgerRepository
from fintrust.adapters.db.repositories import (
    BankAccountRepository,
    CustomerRepository,
    InboxRepository,
    OrderRepository,
    OutboxRepository,
    SuspenseRepository,
)

__all__ = ["SqlUnitOfWork", "as_utc", "utc_now"]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def as_utc(moment: dt.datetime) -> dt.datetime:
    """A timestamp read back from the database, in UTC: SQLite returns naive datetimes, and
    everything is written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


class SqlUnitOfWork:
    def __init__(
        self,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        read_only: bool = False,
        write_behind: bool = False,
    ) -> None:
        """``write_behind``: the repositories keep their writes until commit and send them a
        statement per table (a batch of notifications); reads see what was written."""
        self._engine = engine
        self._clock = clock
        self._read_only = read_only
        self._write_behind = write_behind
        self._connection: Connection | None = None

    def __enter__(self) -> SqlUnitOfWork:
        connection = self._engine.connect()
        if self._read_only:
            connection.info[READ_ONLY] = True
        connection.begin()
        self._connection = connection
        self.now = self._clock()
        behind = self._write_behind
        self.ledger = LedgerRepository(connection, self.now, write_behind=behind)
        self.customers = CustomerRepository(connection, self.now)
        self.orders = OrderRepository(connection, self.now, write_behind=behind)
        self.inbox = InboxRepository(connection, self.now, write_behind=behind)
        self.outbox = OutboxRepository(connection, self.now)
        self.bank_accounts = BankAccountRepository(connection, self.now, write_behind=behind)
        self.suspense = SuspenseRepository(connection, self.now)
        return self

    @property
    def connection(self) -> Connection:
        if self._connection is None:
            raise RuntimeError("the unit of work is not open")
        return self._connection

    @property
    def is_postgresql(self) -> bool:
        return self.connection.dialect.name == "postgresql"

    def pipeline(self) -> AbstractContextManager[None]:
        """Statements made inside are sent together (PostgreSQL): their results are read after."""
        return bulk.pipeline(self.connection)

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work cannot commit")
        # What was held back until now, all in one round trip (write-behind, PostgreSQL), the
        # ledger last: its balance rows are the most contended (asset:trustly moves with every
        # deposit) and are locked from their UPDATE to COMMIT.
        with bulk.pipeline(self.connection) if self._write_behind else nullcontext():
            checks = [
                self.orders.send(),
                self.bank_accounts.send(),
                self.inbox.send(),
                self.ledger.send(),
            ]
        for check in checks:
            check()
        self.connection.commit()

    def rollback(self) -> None:
        self.connection.rollback()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        connection, self._connection = self._connection, None
        if connection is None:
            return
        try:
            if connection.in_transaction():
                connection.rollback()  # not committed: nothing happened
        finally:
            connection.close()
