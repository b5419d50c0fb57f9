"""Many rows per statement (adapters/db/bulk.py), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, select, text
from sqlalchemy.exc import OperationalError

from fintrust.adapters.db import bulk
from fintrust.adapters.db.schema import ledger_accounts, notification_inbox, notification_receipts

NOW = dt.datetime(2026, 11, 27, 9, 0, tzinfo=dt.UTC)
FIELDS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def inbox_row(notification_id: str) -> dict[str, Any]:
    return {
        "notification_id": notification_id,
        "method": "credit",
        "raw_body": '{"method": "credit"}',
        "reply_status": "OK",
        "outcome": "credited",
        "received_at": NOW,
        "order_id": None,
        "trustly_order_id": None,
        "message_id": None,
    }


def receipt(body: str) -> dict[str, Any]:
    return {"received_at": NOW, "raw_body": body, "verdict": "accepted", "error": None}


def receipt_bodies(engine: Engine) -> list[str]:
    with engine.connect() as db:
        query = select(notification_receipts.c.raw_body).order_by(notification_receipts.c.id)
        return list(db.scalars(query))


def insert_inbox(db: Connection, ids: list[str], bodies: list[str]) -> list[str]:
    """Inbox rows (a stored notificationid skipped) with receipts before: the ids inserted."""
    inserted = bulk.insert_rows(
        db,
        notification_inbox,
        [inbox_row(notification_id) for notification_id in ids],
        skip_conflicts_on="notification_id",
        returning=["notification_id"],
        before=[(notification_receipts, [receipt(body) for body in bodies])],
    )
    return sorted(row.notification_id for row in inserted())


def test_insert_rows_inserts_the_rows_before_in_the_same_go(engine: Engine) -> None:
    with engine.begin() as db:
        assert insert_inbox(db, ["n-1", "n-2"], ["a", "b"]) == ["n-1", "n-2"]
        # A stored notification is skipped; the receipts go in all the same.
        assert insert_inbox(db, ["n-2", "n-3"], ["c"]) == ["n-3"]
    assert receipt_bodies(engine) == ["a", "b", "c"]
    with engine.connect() as db:
        stored = db.scalars(select(notification_inbox.c.notification_id)).all()
    assert sorted(stored) == ["n-1", "n-2", "n-3"]


def test_insert_rows_with_no_rows_still_inserts_the_rows_before(engine: Engine) -> None:
    with engine.begin() as db:
        inserted = bulk.insert_rows(
            db,
            notification_inbox,
            [],
            returning=["notification_id"],
            before=[(notification_receipts, [receipt("only")]), (notification_inbox, [])],
        )
        assert inserted() == []
    assert receipt_bodies(engine) == ["only"]


def open_accounts(db: Connection, count: int) -> list[int]:
    rows = [
        {"code": f"liability:wallet:{n}", "currency": "EUR", "no_overdraft": False}
        | dict.fromkeys(FIELDS, 100)
        for n in range(count)
    ]
    return [db.execute(insert(ledger_accounts).values(row)).inserted_primary_key[0] for row in rows]


def balances(db: Connection) -> dict[int, tuple[int, ...]]:
    columns = [ledger_accounts.c[name] for name in FIELDS]
    return {row[0]: tuple(row[1:]) for row in db.execute(select(ledger_accounts.c.id, *columns))}


def test_add_to_rows_adds_to_the_rows_named_and_no_other(engine: Engine) -> None:
    with engine.begin() as db:
        first, second, third = open_accounts(db, 3)
        bulk.add_to_rows(
            db,
            ledger_accounts,
            [  # not in id order, and a negative move
                {"id": third, "debits_posted": 5, "credits_posted": 0}
                | {"debits_pending": -7, "credits_pending": 1},
                {"id": first, "debits_posted": 0, "credits_posted": 250}
                | {"debits_pending": 0, "credits_pending": 0},
            ],
        )
    with engine.connect() as db:
        assert balances(db) == {
            first: (100, 350, 100, 100),
            second: (100, 100, 100, 100),
            third: (105, 100, 93, 101),
        }


@pytest.fixture
def two_connections(postgres_engine: Engine) -> Iterator[tuple[Connection, Connection]]:
    with postgres_engine.connect() as holder, postgres_engine.connect() as mover:
        yield holder, mover


def test_add_to_rows_locks_in_id_order_whatever_order_the_rows_come_in(
    postgres_engine: Engine, two_connections: tuple[Connection, Connection]
) -> None:
    """Two transactions moving the same accounts cannot deadlock: each locks the lowest id first.
    Seen from outside: a mover blocked on the higher id already holds the lower one."""
    holder, mover = two_connections
    with postgres_engine.begin() as db:
        low, high = open_accounts(db, 2)
    holder.execute(text("SELECT id FROM ledger_accounts WHERE id = :id FOR UPDATE"), {"id": high})
    mover_pid = mover.execute(text("SELECT pg_backend_pid()")).scalar_one()
    moves = [{"id": account, **dict.fromkeys(FIELDS, 1)} for account in (high, low)]
    done = threading.Event()

    def move() -> None:
        bulk.add_to_rows(mover, ledger_accounts, moves)
        mover.commit()
        done.set()

    thread = threading.Thread(target=move)
    thread.start()
    try:
        # Wait (bounded) until the mover is blocked on a row lock: on the high id, held above.
        with postgres_engine.connect() as observer:
            for _ in range(2000):
                waiting = observer.execute(
                    text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"),
                    {"pid": mover_pid},
                ).scalar_one_or_none()
                if waiting == "Lock":
                    break
                observer.rollback()
            else:
                pytest.fail("the mover never waited for the lock on the higher id")
        assert not done.is_set()
        with pytest.raises(OperationalError, match="could not obtain lock"):
            holder.execute(
                text("SELECT id FROM ledger_accounts WHERE id = :id FOR UPDATE NOWAIT"),
                {"id": low},
            )
    finally:
        holder.rollback()
        thread.join(timeout=30)
    assert done.is_set()
    with postgres_engine.connect() as db:
        assert balances(db) == {low: (101,) * 4, high: (101,) * 4}


def test_select_rows_is_planned_afresh_each_time(postgres_engine: Engine) -> None:
    """A prepared statement's generic plan, chosen while the inbox was empty, would go on
    scanning the whole inbox as it grows: the lookups of a batch are never prepared."""
    with postgres_engine.begin() as db:
        insert_inbox(db, ["n-1"], ["a"])
        for attempt in range(10):  # psycopg prepares a statement from its 5th execution on
            rows = bulk.select_rows(db, notification_inbox, {"notification_id": ["n-1", "x"]})()
            assert [row["notification_id"] for row in rows] == ["n-1"], attempt
        prepared = db.execute(
            text("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE :pattern"),
            {"pattern": "%notification_inbox%"},
        ).scalar_one()
    assert prepared == 0
