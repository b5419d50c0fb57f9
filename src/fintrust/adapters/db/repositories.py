"""Repositories: rows in, plain values out. Only what the services need."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from fintrust.adapters.db import bulk
from fintrust.adapters.db.schema import (
    bank_accounts,
    customers,
    notification_inbox,
    notification_receipts,
    orders,
    outbox,
    suspense_items,
)

__all__ = [
    "BankAccountRepository",
    "ConcurrentDuplicateError",
    "CustomerRepository",
    "InboxEntry",
    "InboxRepository",
    "OrderRepository",
    "OutboxRepository",
    "OutboxRow",
    "StoredCall",
    "SuspenseRepository",
]


def _same_keys(rows: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Rows grouped by their set of keys: one executemany per statement shape."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    return list(groups.values())


def _dialect_insert(dialect: str, table: Any) -> Any:
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


class _Repository:
    def __init__(
        self, connection: Connection, now: dt.datetime, *, write_behind: bool = False
    ) -> None:
        self._db = connection
        self._now = now
        # Write-behind (a batch of notifications in one transaction): writes are kept and sent
        # by send() at commit, a statement per table for the whole batch instead of one round
        # trip per row; reads see what this transaction wrote.
        self._write_behind = write_behind

    def send(self) -> bulk.Check:
        """Send the writes kept back, and return the check to run once they are done (inside
        :func:`bulk.pipeline` they are done at its end, all in one round trip)."""
        return bulk.no_check


class CustomerRepository(_Repository):
    def add(self, **values: Any) -> int:
        key = self._db.execute(insert(customers).values(created_at=self._now, **values))
        assert key.inserted_primary_key is not None
        return int(key.inserted_primary_key[0])

    def get(self, customer_id: int) -> Row[Any] | None:
        return self._db.execute(select(customers).where(customers.c.id == customer_id)).first()

    def by_end_user_id(self, end_user_id: str) -> Row[Any] | None:
        query = select(customers).where(customers.c.end_user_id == end_user_id)
        return self._db.execute(query).first()

    def all(self) -> list[Row[Any]]:
        return list(self._db.execute(select(customers).order_by(customers.c.id)))


class OrderRepository(_Repository):
    def __init__(
        self, connection: Connection, now: dt.datetime, *, write_behind: bool = False
    ) -> None:
        super().__init__(connection, now, write_behind=write_behind)
        self._locked: dict[int, dict[str, Any]] = {}  # write-behind: id -> current values
        self._changes: dict[int, dict[str, Any]] = {}  # write-behind: id -> columns to set

    def add(self, **values: Any) -> int:
        key = self._db.execute(
            insert(orders).values(created_at=self._now, updated_at=self._now, **values)
        )
        assert key.inserted_primary_key is not None
        return int(key.inserted_primary_key[0])

    def get(self, order_id: int, *, for_update: bool = False) -> Row[Any] | None:
        query = select(orders).where(orders.c.id == order_id)
        return self._db.execute(query.with_for_update() if for_update else query).first()

    def lock(self, *, trustly_order_ids: set[str], message_ids: set[str]) -> bulk.Fetch:
        """Write-behind: lock the orders with these ids, in id order (two processes locking
        overlapping batches cannot deadlock), for find() to answer from. Returns a function
        giving them (inside a pipeline: once it is done)."""
        any_of = {"trustly_order_id": sorted(trustly_order_ids), "message_id": sorted(message_ids)}
        fetch = bulk.select_rows(self._db, orders, any_of, lock=True)

        def locked() -> list[Any]:
            rows = fetch()
            for row in rows:
                self._locked[row["id"]] = row
            return [SimpleNamespace(**row) for row in rows]

        return locked

    def find(
        self, *, trustly_order_id: str | None, message_id: str | None, for_update: bool = False
    ) -> Any:
        """The order a notification is about (a row: its columns as attributes), by Trustly's
        order id, else by our MessageID (a payout's notification may arrive before its
        AccountPayout answer)."""
        by_order, by_message = bool(trustly_order_id), bool(message_id)
        if not (by_order or by_message):
            return None
        if self._write_behind:
            matches = [
                values
                for values in self._locked.values()
                if (by_order and values["trustly_order_id"] == trustly_order_id)
                or (by_message and values["message_id"] == message_id)
            ]
            if matches:
                return SimpleNamespace(**min(matches, key=lambda values: values["id"]))

        def build() -> Any:
            conditions = []
            if by_order:
                conditions.append(orders.c.trustly_order_id == bindparam("b_order"))
            if by_message:
                conditions.append(orders.c.message_id == bindparam("b_message"))
            query = select(orders).where(or_(*conditions)).order_by(orders.c.id)
            # Serialises notifications about the same order across processes (PostgreSQL).
            return query.with_for_update() if for_update else query

        query = bulk.once(("orders.find", by_order, by_message, for_update), build)
        params = {"b_order": trustly_order_id, "b_message": message_id}
        row = self._db.execute(query, params).first()
        if row is not None and self._write_behind:
            self._locked[row.id] = dict(row._mapping)
            return SimpleNamespace(**row._mapping)
        return row

    def update(self, order_id: int, **values: Any) -> None:
        if self._write_behind:
            self._changes.setdefault(order_id, {}).update(values)
            if order_id in self._locked:
                self._locked[order_id].update(values)
            return
        query = bulk.once(
            "orders.update", lambda: update(orders).where(orders.c.id == bindparam("b_id"))
        )
        self._db.execute(query, {"b_id": order_id, "updated_at": self._now, **values})

    def send(self) -> bulk.Check:
        changes, self._changes = self._changes, {}
        for rows in _same_keys(
            {"id": order_id, "updated_at": self._now, **values}
            for order_id, values in sorted(changes.items())
        ):
            bulk.update_rows(self._db, orders, rows)
        return bulk.no_check

    def of_customer(self, customer_id: int, kind: str | None = None) -> list[Row[Any]]:
        query = select(orders).where(orders.c.customer_id == customer_id)
        if kind is not None:
            query = query.where(orders.c.kind == kind)
        return list(self._db.execute(query.order_by(orders.c.id.desc())))

    def in_state(self, kind: str, states: tuple[str, ...]) -> list[Row[Any]]:
        query = select(orders).where(orders.c.kind == kind, orders.c.state.in_(states))
        return list(self._db.execute(query.order_by(orders.c.id)))


@dataclass(frozen=True)
class InboxEntry:
    notification_id: str
    method: str
    reply_status: str
    outcome: str
    order_id: int | None


class ConcurrentDuplicateError(Exception):
    """Write-behind: another transaction stored one of this batch's notifications first."""


def _entry(values: Any) -> InboxEntry:
    return InboxEntry(
        values["notification_id"],
        values["method"],
        values["reply_status"],
        values["outcome"],
        values["order_id"],
    )


class InboxRepository(_Repository):
    def __init__(
        self, connection: Connection, now: dt.datetime, *, write_behind: bool = False
    ) -> None:
        super().__init__(connection, now, write_behind=write_behind)
        self._known: dict[str, InboxEntry] = {}  # write-behind: stored before this transaction
        self._new: dict[str, dict[str, Any]] = {}  # write-behind: rows to insert
        self._receipts: list[dict[str, Any]] = []  # write-behind: receipts to insert

    def receipt(self, raw_body: str, verdict: str, error: str | None = None) -> None:
        values = {"received_at": self._now, "raw_body": raw_body, "verdict": verdict}
        if self._write_behind:
            self._receipts.append({**values, "error": error})
            return
        query = bulk.once("receipts.insert", lambda: insert(notification_receipts))
        self._db.execute(query, {**values, "error": error})

    def load(self, notification_ids: set[str]) -> bulk.Check:
        """Write-behind: read which of these notifications were stored before, at once; done
        when the function returned is called (inside a pipeline: once it is done)."""
        fetch = bulk.select_rows(
            self._db, notification_inbox, {"notification_id": sorted(notification_ids)}
        )

        def loaded() -> None:
            for row in fetch():
                self._known[row["notification_id"]] = _entry(row)

        return loaded

    def get(self, notification_id: str) -> InboxEntry | None:
        if notification_id in self._new:
            return _entry(self._new[notification_id])
        if notification_id in self._known:
            return self._known[notification_id]
        row = self._db.execute(
            select(notification_inbox).where(
                notification_inbox.c.notification_id == notification_id
            )
        ).first()
        return _entry(row._mapping) if row is not None else None

    def claim(self, notification_id: str, method: str, raw_body: str) -> bool:
        """Record the notification as being handled now; False when it was handled before
        (the unique notificationid makes a concurrent duplicate wait, then fail here)."""
        values: dict[str, Any] = {"notification_id": notification_id, "method": method}
        values |= {
            "raw_body": raw_body,
            "reply_status": "",
            "outcome": "",
            "received_at": self._now,
        }
        if self._write_behind:
            # What load() did not find is new; should another transaction store it meanwhile,
            # the commit fails and the batch is handled again, notification by notification.
            if notification_id in self._known or notification_id in self._new:
                return False
            self._new[notification_id] = values | {
                "order_id": None,
                "trustly_order_id": None,
                "message_id": None,
            }
            return True
        # ON CONFLICT DO NOTHING, not a savepoint: one round trip instead of three. A concurrent
        # duplicate still waits on the unique index until the first commits, then inserts nothing.
        dialect = self._db.dialect.name
        query = bulk.once(
            ("inbox.claim", dialect),
            lambda: (
                _dialect_insert(dialect, notification_inbox)
                .on_conflict_do_nothing(index_elements=["notification_id"])
                .returning(notification_inbox.c.id)
            ),
        )
        return self._db.execute(query, values).first() is not None

    def finish(
        self,
        notification_id: str,
        *,
        reply_status: str,
        outcome: str,
        order_id: int | None,
        trustly_order_id: str | None,
        message_id: str | None,
    ) -> None:
        values = {
            "reply_status": reply_status,
            "outcome": outcome,
            "order_id": order_id,
            "trustly_order_id": trustly_order_id,
            "message_id": message_id,
        }
        if self._write_behind:
            self._new[notification_id].update(values)
            return
        query = bulk.once(
            "inbox.finish",
            lambda: update(notification_inbox).where(
                notification_inbox.c.notification_id == bindparam("b_id")
            ),
        )
        self._db.execute(query, {"b_id": notification_id, **values})

    def send(self) -> bulk.Check:
        new, self._new = self._new, {}
        receipts, self._receipts = self._receipts, []
        stored = bulk.insert_rows(
            self._db,
            notification_inbox,
            list(new.values()),
            skip_conflicts_on="notification_id",
            returning=["notification_id"],
            before=[(notification_receipts, receipts)],
        )

        def check() -> None:
            missing = set(new) - {row.notification_id for row in stored()}
            if missing:
                raise ConcurrentDuplicateError(
                    f"stored meanwhile by another transaction: {sorted(missing)}"
                )
            self._known.update((key, _entry(values)) for key, values in new.items())

        return check

    def of_order(self, order_id: int) -> list[Row[Any]]:
        query = select(notification_inbox).where(notification_inbox.c.order_id == order_id)
        return list(self._db.execute(query.order_by(notification_inbox.c.id)))


@dataclass(frozen=True)
class OutboxRow:
    id: int
    method: str
    uuid: str
    order_id: int | None
    data: dict[str, Any]
    attempts: int


@dataclass(frozen=True)
class StoredCall:
    id: int
    method: str
    status: str
    attempts: int
    result_data: Any
    last_error: str | None


class OutboxRepository(_Repository):
    def add(self, method: str, uuid: str, data: dict[str, Any], order_id: int | None) -> int:
        key = self._db.execute(
            insert(outbox).values(
                method=method,
                uuid=uuid,
                order_id=order_id,
                data=json.dumps(data, ensure_ascii=False, sort_keys=True),
                status="pending",
                attempts=0,
                next_attempt_at=self._now,
                created_at=self._now,
                updated_at=self._now,
            )
        )
        assert key.inserted_primary_key is not None
        return int(key.inserted_primary_key[0])

    def get(self, outbox_id: int) -> StoredCall | None:
        row = self._db.execute(select(outbox).where(outbox.c.id == outbox_id)).first()
        if row is None:
            return None
        return StoredCall(
            row.id,
            row.method,
            row.status,
            row.attempts,
            json.loads(row.result) if row.result else None,
            row.last_error,
        )

    def claim_due(self, limit: int, lease: dt.timedelta) -> list[OutboxRow]:
        """Take due calls for this worker for ``lease``: other workers skip them (PostgreSQL
        ``FOR UPDATE SKIP LOCKED``; SQLite's single writer serialises claims anyway)."""
        o = outbox.c
        query = (
            select(outbox)
            .where(
                o.status == "pending",
                o.next_attempt_at <= self._now,
                or_(o.claimed_until.is_(None), o.claimed_until <= self._now),
            )
            .order_by(o.next_attempt_at, o.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        rows = list(self._db.execute(query))
        if rows:
            self._db.execute(
                update(outbox)
                .where(o.id.in_([r.id for r in rows]))
                .values(claimed_until=self._now + lease, attempts=o.attempts + 1)
            )
        return [
            OutboxRow(r.id, r.method, r.uuid, r.order_id, json.loads(r.data), r.attempts + 1)
            for r in rows
        ]

    def claim_pending(self, outbox_id: int, lease: dt.timedelta) -> OutboxRow | None:
        """Claim one call to send it now (a Deposit the customer waits for): None when it is no
        longer pending or another sender (a worker) holds it, so it is never sent twice at once."""
        o = outbox.c
        claimed = self._db.execute(
            update(outbox)
            .where(
                o.id == outbox_id,
                o.status == "pending",
                or_(o.claimed_until.is_(None), o.claimed_until <= self._now),
            )
            .values(claimed_until=self._now + lease, attempts=o.attempts + 1)
        )
        if claimed.rowcount != 1:
            return None
        r = self._db.execute(select(outbox).where(o.id == outbox_id)).one()
        return OutboxRow(r.id, r.method, r.uuid, r.order_id, json.loads(r.data), r.attempts)

    def finish(
        self, outbox_id: int, status: str, *, result: Any = None, error: str | None = None
    ) -> None:
        self._db.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id)
            .values(
                status=status,
                claimed_until=None,
                result=json.dumps(result, default=str) if result is not None else None,
                last_error=error,
                updated_at=self._now,
            )
        )

    def retry_later(self, outbox_id: int, at: dt.datetime, error: str) -> None:
        self._db.execute(
            update(outbox)
            .where(outbox.c.id == outbox_id)
            .values(next_attempt_at=at, claimed_until=None, last_error=error, updated_at=self._now)
        )

    def counts(self) -> dict[str, int]:
        rows = self._db.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
        return {status: int(count) for status, count in rows}

    def of_order(self, order_id: int) -> list[Row[Any]]:
        return list(self._db.execute(select(outbox).where(outbox.c.order_id == order_id)))


class BankAccountRepository(_Repository):
    def __init__(
        self, connection: Connection, now: dt.datetime, *, write_behind: bool = False
    ) -> None:
        super().__init__(connection, now, write_behind=write_behind)
        self._saves: list[dict[str, Any]] = []  # write-behind: upserts to send

    def save(self, customer_id: int, account_id: str, **details: Any) -> None:
        """Store a payout destination once per customer; newer details refresh it."""
        values = {"customer_id": customer_id, "account_id": account_id, **details}
        if self._write_behind:
            self._saves.append(values)
            return
        dialect, keys = self._db.dialect.name, tuple(sorted(details))

        def build() -> Any:  # one upsert instead of a SELECT and an INSERT or UPDATE
            statement = _dialect_insert(dialect, bank_accounts)
            return statement.on_conflict_do_update(
                index_elements=["customer_id", "account_id"],
                set_={key: statement.excluded[key] for key in keys},
            )

        query = bulk.once(("bank_accounts.save", dialect, keys), build)
        self._db.execute(query, {**values, "created_at": self._now})

    def send(self) -> bulk.Check:
        saves, self._saves = self._saves, []
        for rows in _same_keys(saves):
            stamped = [{**row, "created_at": self._now} for row in rows]
            bulk.upsert_rows(self._db, bank_accounts, stamped, keys=("customer_id", "account_id"))
        return bulk.no_check

    def of_customer(self, customer_id: int) -> list[Row[Any]]:
        query = select(bank_accounts).where(bank_accounts.c.customer_id == customer_id)
        return list(self._db.execute(query.order_by(bank_accounts.c.id.desc())))


class SuspenseRepository(_Repository):
    def add(
        self,
        *,
        order_id: int | None,
        notification_id: str | None,
        amount: int,
        currency: str,
        reason: str,
    ) -> int:
        key = self._db.execute(
            insert(suspense_items).values(
                order_id=order_id,
                notification_id=notification_id,
                amount=amount,
                currency=currency,
                reason=reason,
                status="open",
                created_at=self._now,
            )
        )
        assert key.inserted_primary_key is not None
        return int(key.inserted_primary_key[0])

    def resolve_open(self, order_id: int, resolution: str) -> None:
        """Close the order's open items of money held (positive ones)."""
        s = suspense_items.c
        self._db.execute(
            update(suspense_items)
            .where(s.order_id == order_id, s.status == "open", s.amount > 0)
            .values(status="resolved", resolution=resolution, resolved_at=self._now)
        )

    def open_items(self) -> list[Row[Any]]:
        query = select(suspense_items).where(suspense_items.c.status == "open")
        return list(self._db.execute(query.order_by(suspense_items.c.id)))
