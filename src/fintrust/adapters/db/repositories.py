"""Repositories: rows in, plain values out. Only what the services need."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

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
    "CustomerRepository",
    "InboxEntry",
    "InboxRepository",
    "OrderRepository",
    "OutboxRepository",
    "OutboxRow",
    "StoredCall",
    "SuspenseRepository",
]


class _Repository:
    def __init__(self, connection: Connection, now: dt.datetime) -> None:
        self._db = connection
        self._now = now


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
    def add(self, **values: Any) -> int:
        key = self._db.execute(
            insert(orders).values(created_at=self._now, updated_at=self._now, **values)
        )
        assert key.inserted_primary_key is not None
        return int(key.inserted_primary_key[0])

    def get(self, order_id: int, *, for_update: bool = False) -> Row[Any] | None:
        query = select(orders).where(orders.c.id == order_id)
        return self._db.execute(query.with_for_update() if for_update else query).first()

    def find(
        self, *, trustly_order_id: str | None, message_id: str | None, for_update: bool = False
    ) -> Row[Any] | None:
        """The order a notification is about: by Trustly's order id, else by our MessageID
        (a payout's notification may arrive before its AccountPayout answer)."""
        conditions = []
        if trustly_order_id:
            conditions.append(orders.c.trustly_order_id == trustly_order_id)
        if message_id:
            conditions.append(orders.c.message_id == message_id)
        if not conditions:
            return None
        query = select(orders).where(or_(*conditions)).order_by(orders.c.id)
        # Serialises notifications about the same order across processes (PostgreSQL).
        return self._db.execute(query.with_for_update() if for_update else query).first()

    def update(self, order_id: int, **values: Any) -> None:
        self._db.execute(
            update(orders).where(orders.c.id == order_id).values(updated_at=self._now, **values)
        )

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


class InboxRepository(_Repository):
    def receipt(self, raw_body: str, verdict: str, error: str | None = None) -> None:
        self._db.execute(
            insert(notification_receipts).values(
                received_at=self._now, raw_body=raw_body, verdict=verdict, error=error
            )
        )

    def get(self, notification_id: str) -> InboxEntry | None:
        row = self._db.execute(
            select(notification_inbox).where(
                notification_inbox.c.notification_id == notification_id
            )
        ).first()
        if row is None:
            return None
        return InboxEntry(
            row.notification_id, row.method, row.reply_status, row.outcome, row.order_id
        )

    def claim(self, notification_id: str, method: str, raw_body: str) -> bool:
        """Record the notification as being handled now; False when it was handled before
        (the unique notificationid makes a concurrent duplicate wait, then fail here)."""
        nested = self._db.begin_nested()
        try:
            self._db.execute(
                insert(notification_inbox).values(
                    notification_id=notification_id,
                    method=method,
                    reply_status="",
                    outcome="",
                    received_at=self._now,
                    raw_body=raw_body,
                )
            )
        except IntegrityError:
            nested.rollback()
            return False
        nested.commit()
        return True

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
        self._db.execute(
            update(notification_inbox)
            .where(notification_inbox.c.notification_id == notification_id)
            .values(
                reply_status=reply_status,
                outcome=outcome,
                order_id=order_id,
                trustly_order_id=trustly_order_id,
                message_id=message_id,
            )
        )

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
    def save(self, customer_id: int, account_id: str, **details: Any) -> None:
        """Store a payout destination once per customer; newer details refresh it."""
        existing = self._db.execute(
            select(bank_accounts.c.id).where(
                and_(
                    bank_accounts.c.customer_id == customer_id,
                    bank_accounts.c.account_id == account_id,
                )
            )
        ).scalar()
        if existing is None:
            self._db.execute(
                insert(bank_accounts).values(
                    customer_id=customer_id, account_id=account_id, created_at=self._now, **details
                )
            )
        else:
            self._db.execute(
                update(bank_accounts).where(bank_accounts.c.id == existing).values(**details)
            )

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
