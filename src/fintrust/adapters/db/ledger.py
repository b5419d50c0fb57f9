"""The ledger in the database: transactions and transfers written once, balances kept in the
same transaction, and a verification that recomputes every balance from the transfers."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from fintrust.adapters.db import bulk
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


_KNOWN_ACCOUNTS = 10_000  # ledger account ids remembered per pooled connection
_FIELDS = ("credits_pending", "credits_posted", "debits_pending", "debits_posted")


def _record_sql(
    t_columns: Sequence[str], x_columns: Sequence[str], reference: str
) -> Callable[[str, str], str]:
    """Transactions and their transfers in one statement, returning the references recorded (one
    recorded before is left out, and so are its transfers: the check then fails the commit). A
    transfer's transaction_id is its transaction's place in the array of references."""
    selected = ", ".join("t.id" if c == "transaction_id" else f"v.{c}" for c in x_columns)

    def sql(transactions: str, transfers: str) -> str:
        return (
            f"WITH t AS (INSERT INTO ledger_transactions ({', '.join(t_columns)}) "  # noqa: S608
            f"SELECT * FROM {transactions} "
            "ON CONFLICT (reference) DO NOTHING RETURNING id, reference), "
            f"x AS (INSERT INTO ledger_transfers ({', '.join(x_columns)}) SELECT {selected} "
            f"FROM {transfers} AS v({', '.join(x_columns)}) JOIN t ON t.reference = "
            f"(CAST(%(t_reference)b AS {reference}[]))[v.transaction_id]) "
            "SELECT reference FROM t"
        )

    return sql


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
    def __init__(
        self, connection: Connection, now: dt.datetime, *, write_behind: bool = False
    ) -> None:
        self._db = connection
        self._now = now
        # Write-behind (a batch of notifications): transactions and transfers are kept and
        # written by flush(), one statement each for the whole batch. A reference recorded
        # before then fails the flush (AlreadyRecordedError) instead of record().
        self._write_behind = write_behind
        self._transactions: list[dict[str, Any]] = []
        self._transfers: list[dict[str, Any]] = []
        self._opened: set[tuple[str, str]] = set()  # accounts this transaction created
        # Balance moves that need no check, applied by flush() just before COMMIT: the row locks
        # they take (asset:trustly is in every deposit) are then held for one statement and the
        # commit, not for the rest of the transaction while its Python waits for the GIL.
        self._deferred: dict[int, dict[str, int]] = {}

    def account(self, code: str, currency: str, *, no_overdraft: bool = False) -> int:
        """The account's id, opening it on first use."""
        # A wallet in a currency the customer was not registered in was opened by its first
        # credit without the flag, so concurrent withdrawals on PostgreSQL could each pass the
        # balance check and overdraw it (8 x 60.00 SEK paid out of 100.00 SEK). Wallets are
        # no-overdraft whichever transfer opens them.
        return self._account(code, currency, no_overdraft)[0]

    def load_accounts(self, keys: set[tuple[str, str]]) -> None:
        """Read the ids of these accounts (code, currency) in one round trip instead of one each
        on first use (a batch of notifications)."""
        known = self._known()
        missing = {key for key in keys if key not in known}
        if not missing:
            return
        # code = ANY(array): one statement text whatever the number of codes, which PostgreSQL
        # prepares once (an expanding IN is new SQL for every length).
        codes = sorted({code for code, _ in missing})
        fetch = bulk.select_rows(self._db, ledger_accounts, {"code": codes})
        for row in fetch():
            key = (row["code"], row["currency"])
            if key in missing and key not in self._opened:
                known[key] = (int(row["id"]), bool(row["no_overdraft"]))

    def _known(self) -> dict[tuple[str, str], tuple[int, bool]]:
        # Accounts are never deleted and their flag never changes: what a committed row says
        # holds for as long as this pooled connection lives (its info dict). Wallets are many:
        # the memory is bounded by forgetting everything now and then.
        known: dict[tuple[str, str], tuple[int, bool]] = self._db.info.setdefault(
            "fintrust_ledger_accounts", {}
        )
        if len(known) > _KNOWN_ACCOUNTS:
            known.clear()
        return known

    def _account(self, code: str, currency: str, no_overdraft: bool = False) -> tuple[int, bool]:
        """(id, no_overdraft) of the account, opening it on first use."""
        no_overdraft = no_overdraft or opens_with_no_overdraft(code)
        known = self._known()
        cached = known.get((code, currency))
        if cached is not None:
            return cached
        query = bulk.once(
            "accounts.find",
            lambda: select(ledger_accounts.c.id, ledger_accounts.c.no_overdraft).where(
                ledger_accounts.c.code == bindparam("b_code"),
                ledger_accounts.c.currency == bindparam("b_currency"),
            ),
        )
        found = self._db.execute(query, {"b_code": code, "b_currency": currency}).first()
        if found is not None:
            result = (int(found.id), bool(found.no_overdraft))
            if (code, currency) not in self._opened:  # committed: safe to remember
                known[(code, currency)] = result
            return result
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
            self._opened.add((code, currency))
            return int(new_id[0]), no_overdraft
        except IntegrityError:
            nested.rollback()
            return self._account(code, currency)

    def balance(self, code: str, currency: str) -> AccountBalance:
        self.flush()
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
        if self._write_behind:
            self.flush()  # it may be one of this batch's
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
        values: dict[str, Any] = {
            "reference": transaction.reference,
            "description": transaction.description,
            "created_at": self._now,
        }
        if self._write_behind:
            # Kept back whole, after its transfers: writing them may send what was kept back
            # before (a settlement reads its pending transfer, a checked debit sees every move).
            kept: list[dict[str, Any]] = []
            for transfer in transaction.transfers:
                self._write(0, transfer, enforce_no_overdraft, kept=kept)
            self._transactions.append(values)
            for row in kept:  # the transaction's place among those kept back, from 1
                row["transaction_id"] = len(self._transactions)
            self._transfers.extend(kept)
            return
        dialect = self._db.dialect.name
        query = bulk.once(
            ("transactions.insert", dialect),
            lambda: (
                (postgresql.insert if dialect == "postgresql" else sqlite.insert)(
                    ledger_transactions
                )
                .on_conflict_do_nothing(index_elements=["reference"])
                .returning(ledger_transactions.c.id)
            ),
        )
        transaction_id = self._db.execute(query, values).scalar()
        if transaction_id is None:
            raise AlreadyRecordedError(f"{transaction.reference} was recorded before")
        for transfer in transaction.transfers:
            self._write(int(transaction_id), transfer, enforce_no_overdraft)

    def _write(
        self,
        transaction: int,
        transfer: Transfer,
        enforce: bool,
        *,
        kept: list[dict[str, Any]] | None = None,
    ) -> None:
        """Write ``transfer`` of ``transaction`` (its id), or add its row to ``kept``."""
        currency = transfer.amount.currency
        debit_id, debit_checked = self._account(transfer.debit, currency)
        credit_id = self._account(transfer.credit, currency)[0]
        minor = transfer.amount.minor
        if transfer.pending_id is not None:
            pending = self.transfer(transfer.pending_id)  # flushes what was written behind
            if pending is None or pending.kind is not TransferKind.PENDING:
                raise LedgerError(f"{transfer.pending_id} is not a pending transfer")
            if (pending.debit, pending.credit, pending.amount) != (
                transfer.debit,
                transfer.credit,
                transfer.amount,
            ):
                raise LedgerError("post/void must match its pending transfer")
        # No savepoint: a second settlement fails the whole transaction, which every caller then
        # leaves without committing (a LedgerError always ends the unit of work).
        values = {
            "id": transfer.id,
            "transaction_id": transaction,
            "amount": minor,
            "debit_account_id": debit_id,
            "credit_account_id": credit_id,
            "currency": currency,
            "kind": transfer.kind.value,
            "pending_id": transfer.pending_id,
            "created_at": self._now,
        }
        if kept is not None:
            kept.append(values)
        else:
            self._insert_transfers([values])
        if transfer.kind in (TransferKind.POST, TransferKind.VOID):
            posted = minor if transfer.kind is TransferKind.POST else 0
            self._move(debit_id, debits_pending=-minor, debits_posted=posted)
            self._move(credit_id, credits_pending=-minor, credits_posted=posted)
            return
        field = "pending" if transfer.kind is TransferKind.PENDING else "posted"
        if enforce and debit_checked:
            self.flush()  # the check sees every earlier move of this transaction
            if not self._checked_debit(debit_id, f"debits_{field}", minor):
                raise LedgerError(f"{transfer.debit} would be overdrawn by this {transfer.amount}")
        else:
            self._move(debit_id, **{f"debits_{field}": minor})
        self._move(credit_id, **{f"credits_{field}": minor})

    def _move(self, account_id: int, **deltas: int) -> None:
        pending = self._deferred.setdefault(account_id, {})
        for name, delta in deltas.items():
            pending[name] = pending.get(name, 0) + delta

    def _checked_debit(self, account_id: int, name: str, minor: int) -> bool:
        """The check and the change in one statement: no read-modify-write race."""

        def build() -> Any:
            columns = ledger_accounts.c
            available = columns.credits_posted - columns.debits_posted - columns.debits_pending
            return (
                update(ledger_accounts)
                .where(columns.id == bindparam("b_id"))
                .where((~columns.no_overdraft) | (available >= bindparam("b_amount")))
                .values({columns[name]: columns[name] + bindparam("b_amount")})
            )

        statement = bulk.once(("accounts.checked_debit", name), build)
        return self._db.execute(statement, {"b_id": account_id, "b_amount": minor}).rowcount == 1

    def _insert_transfers(self, rows: list[dict[str, Any]]) -> None:
        try:
            bulk.insert_rows(self._db, ledger_transfers, rows)
        except IntegrityError:
            ids = ", ".join(row["id"] for row in rows)
            raise LedgerError(f"transfer {ids} or its settlement exists already") from None

    def flush(self) -> None:
        """Write what was written behind, then apply the deferred balance moves."""
        self.send()()

    def send(self) -> bulk.Check:
        """Send what was written behind and the deferred balance moves; return the check to run
        once they are done (inside :func:`bulk.pipeline`, at its end). The moves go last, in
        account-id order (no deadlocks), each account's row locked until COMMIT."""
        transactions, self._transactions = self._transactions, []
        transfers, self._transfers = self._transfers, []
        check = self._send_transactions(transactions, transfers) if transactions else bulk.no_check
        deferred, self._deferred = self._deferred, {}
        moves = [
            {"id": account_id, **{n: changes.get(n, 0) for n in _FIELDS}}
            for account_id, changes in sorted(deferred.items())
            if any(changes.values())
        ]
        bulk.add_to_rows(self._db, ledger_accounts, moves)
        return check

    def _send_transactions(
        self, transactions: list[dict[str, Any]], transfers: list[dict[str, Any]]
    ) -> bulk.Check:
        references = [t["reference"] for t in transactions]

        def check(stored: bulk.Fetch) -> bulk.Check:
            def recorded_once() -> None:
                missing = set(references) - {row.reference for row in stored()}
                if missing:
                    raise AlreadyRecordedError(f"{', '.join(sorted(missing))} recorded before")

            return recorded_once

        if self._db.dialect.name == "postgresql" and transfers:
            # One statement: the transfers join the transactions just inserted by reference (a
            # transfer's transaction_id is its transaction's place in the references array).
            columns = (tuple(transactions[0]), tuple(transfers[0]))
            reference = ledger_transactions.c.reference.type.compile(self._db.dialect)
            return check(
                bulk.run_unnest(
                    self._db,
                    ("ledger.record", columns),
                    _record_sql(*columns, reference),
                    (ledger_transactions, transactions, "t_"),
                    (ledger_transfers, transfers, "x_"),
                )
            )
        stored = bulk.insert_rows(
            self._db,
            ledger_transactions,
            transactions,
            skip_conflicts_on="reference",
            returning=["id", "reference"],
        )
        check(stored)()  # before the transfers refer to them
        ids = {row.reference: int(row.id) for row in stored()}
        for transfer in transfers:
            transfer["transaction_id"] = ids[references[transfer["transaction_id"] - 1]]
        if transfers:
            self._insert_transfers(transfers)
        return bulk.no_check

    def verify(self) -> list[Mismatch]:
        """Recompute every account's totals from the transfers and compare."""
        self.flush()
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
        self.flush()
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
