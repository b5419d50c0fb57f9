"""The ledger in the database: transactions and transfers written once, balances kept in the
same transaction, and a verification that recomputes every balance from the transfers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from fintrust.adapters.db.schema import ledger_accounts, ledger_transactions, ledger_transfers
from fintrust.domain.ledger import (
    AccountBalance,
    LedgerError,
    LedgerTransaction,
    Transfer,
    TransferKind,
    opens_with_no_overdraft,
)
from fintrust.domain.money import Money

__all__ = ["AlreadyRecordedError", "LedgerRepository", "Mismatch"]

_PENDING, _POSTED = TransferKind.PENDING.value, TransferKind.POSTED.value
_DEBIT = ledger_accounts.alias("debit_account")
_CREDIT = ledger_accounts.alias("credit_account")


class AlreadyRecordedError(LedgerError):
    """A transaction with this reference exists: the event was recorded before."""


@dataclass(frozen=True)
class Mismatch:
    code: str
    currency: str
    field: str
    stored: int
    recomputed: int


class LedgerRepository:
    def __init__(self, connection: Connection, now: dt.datetime) -> None:
        self._db = connection
        self._now = now

    def account(self, code: str, currency: str, *, no_overdraft: bool = False) -> int:
        """The account's id, opening it on first use."""
        # A wallet in a currency the customer was not registered in was opened by its first
        # credit without the flag, so concurrent withdrawals on PostgreSQL could each pass the
        # balance check and overdraw it (8 x 60.00 SEK paid out of 100.00 SEK). Wallets are
        # no-overdraft whichever transfer opens them.
        no_overdraft = no_overdraft or opens_with_no_overdraft(code)
        found = self._db.execute(
            select(ledger_accounts.c.id).where(
                ledger_accounts.c.code == code, ledger_accounts.c.currency == currency
            )
        ).scalar()
        if found is not None:
            return int(found)
        nested = self._db.begin_nested()  # another transaction may open it at the same moment
        try:
            new_id = self._db.execute(
                insert(ledger_accounts).values(
                    code=code,
                    currency=currency,
                    no_overdraft=no_overdraft,
                    debits_posted=0,
                    credits_posted=0,
                    debits_pending=0,
                    credits_pending=0,
                )
            ).inserted_primary_key
            nested.commit()
            assert new_id is not None
            return int(new_id[0])
        except IntegrityError:
            nested.rollback()
            return self.account(code, currency)

    def balance(self, code: str, currency: str) -> AccountBalance:
        row = self._db.execute(
            select(ledger_accounts).where(
                ledger_accounts.c.code == code, ledger_accounts.c.currency == currency
            )
        ).first()
        if row is None:
            return AccountBalance(code, currency)
        return AccountBalance(
            code,
            currency,
            row.debits_posted,
            row.credits_posted,
            row.debits_pending,
            row.credits_pending,
            row.no_overdraft,
        )

    def transfer(self, transfer_id: str) -> Transfer | None:
        row = self._db.execute(
            select(
                ledger_transfers,
                _DEBIT.c.code.label("debit_code"),
                _CREDIT.c.code.label("credit_code"),
            )
            .join(_DEBIT, _DEBIT.c.id == ledger_transfers.c.debit_account_id)
            .join(_CREDIT, _CREDIT.c.id == ledger_transfers.c.credit_account_id)
            .where(ledger_transfers.c.id == transfer_id)
        ).first()
        if row is None:
            return None
        return Transfer(
            row.id,
            row.debit_code,
            row.credit_code,
            Money(row.currency, row.amount),
            TransferKind(row.kind),
            row.pending_id,
        )

    def record(self, transaction: LedgerTransaction, *, enforce_no_overdraft: bool = True) -> None:
        """Write ``transaction`` and move the balances, or raise (and the caller rolls back).

        :class:`AlreadyRecordedError` when its reference was recorded before; :class:`LedgerError`
        when a no-overdraft account would be overdrawn or a pending transfer settled twice.
        """
        nested = self._db.begin_nested()
        try:
            transaction_id = self._db.execute(
                insert(ledger_transactions).values(
                    reference=transaction.reference,
                    description=transaction.description,
                    created_at=self._now,
                )
            ).inserted_primary_key
        except IntegrityError:
            nested.rollback()
            raise AlreadyRecordedError(f"{transaction.reference} was recorded before") from None
        nested.commit()
        assert transaction_id is not None
        for transfer in transaction.transfers:
            self._write(int(transaction_id[0]), transfer, enforce_no_overdraft)

    def _write(self, transaction_id: int, transfer: Transfer, enforce: bool) -> None:
        currency = transfer.amount.currency
        debit_id = self.account(transfer.debit, currency)
        credit_id = self.account(transfer.credit, currency)
        minor = transfer.amount.minor
        if transfer.pending_id is not None:
            pending = self.transfer(transfer.pending_id)
            if pending is None or pending.kind is not TransferKind.PENDING:
                raise LedgerError(f"{transfer.pending_id} is not a pending transfer")
            if (pending.debit, pending.credit, pending.amount) != (
                transfer.debit,
                transfer.credit,
                transfer.amount,
            ):
                raise LedgerError("post/void must match its pending transfer")
        nested = self._db.begin_nested()
        try:
            self._db.execute(
                insert(ledger_transfers).values(
                    id=transfer.id,
                    transaction_id=transaction_id,
                    debit_account_id=debit_id,
                    credit_account_id=credit_id,
                    amount=minor,
                    currency=currency,
                    kind=transfer.kind.value,
                    pending_id=transfer.pending_id,
                    created_at=self._now,
                )
            )
        except IntegrityError:
            nested.rollback()
            raise LedgerError(f"transfer {transfer.id} or its settlement exists already") from None
        nested.commit()
        accounts = ledger_accounts.c
        if transfer.kind in (TransferKind.POST, TransferKind.VOID):
            posted = minor if transfer.kind is TransferKind.POST else 0
            self._move(debit_id, debits_pending=-minor, debits_posted=posted)
            self._move(credit_id, credits_pending=-minor, credits_posted=posted)
            return
        field = "pending" if transfer.kind is TransferKind.PENDING else "posted"
        guard = None
        if enforce:
            # The check and the change in one statement: no read-modify-write race.
            guard = (~accounts.no_overdraft) | (
                accounts.credits_posted - accounts.debits_posted - accounts.debits_pending >= minor
            )
        if not self._move(debit_id, guard=guard, **{f"debits_{field}": minor}):
            raise LedgerError(f"{transfer.debit} would be overdrawn by this {transfer.amount}")
        self._move(credit_id, **{f"credits_{field}": minor})

    def _move(self, account_id: int, guard: object = None, **deltas: int) -> bool:
        columns = ledger_accounts.c
        statement = update(ledger_accounts).where(columns.id == account_id)
        if guard is not None:
            statement = statement.where(guard)  # type: ignore[arg-type]
        values = {name: columns[name] + delta for name, delta in deltas.items() if delta}
        return self._db.execute(statement.values(values)).rowcount == 1

    def verify(self) -> list[Mismatch]:
        """Recompute every account's totals from the transfers and compare."""
        sums: dict[tuple[int, str], int] = defaultdict(int)
        t = ledger_transfers.c
        rows = self._db.execute(
            select(t.debit_account_id, t.credit_account_id, t.kind, func.sum(t.amount)).group_by(
                t.debit_account_id, t.credit_account_id, t.kind
            )
        ).all()
        for debit_id, credit_id, kind, summed in rows:
            total = int(summed)
            if kind in (_PENDING, _POSTED):
                sums[(debit_id, f"debits_{kind}")] += total
                sums[(credit_id, f"credits_{kind}")] += total
            else:  # post or void: out of pending, and into posted for a post
                sums[(debit_id, "debits_pending")] -= total
                sums[(credit_id, "credits_pending")] -= total
                if kind == TransferKind.POST.value:
                    sums[(debit_id, "debits_posted")] += total
                    sums[(credit_id, "credits_posted")] += total
        mismatches = []
        fields = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")
        for row in self._db.execute(select(ledger_accounts)).all():
            for name in fields:
                stored, recomputed = getattr(row, name), sums.get((row.id, name), 0)
                if stored != recomputed:
                    mismatches.append(Mismatch(row.code, row.currency, name, stored, recomputed))
        return mismatches

    def accounts(self, code: str | None = None) -> list[AccountBalance]:
        """Every account, or the accounts named ``code`` (one per currency)."""
        query = select(ledger_accounts).order_by(ledger_accounts.c.code, ledger_accounts.c.currency)
        if code is not None:
            query = query.where(ledger_accounts.c.code == code)
        return [
            AccountBalance(
                row.code,
                row.currency,
                row.debits_posted,
                row.credits_posted,
                row.debits_pending,
                row.credits_pending,
                row.no_overdraft,
            )
            for row in self._db.execute(query)
        ]
