"""Engines: SQLite (embedded default: WAL, foreign keys, ``BEGIN IMMEDIATE`` writes) or
PostgreSQL (psycopg 3)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

__all__ = ["READ_ONLY", "is_sqlite", "make_engine"]

READ_ONLY = "fintrust_read_only"  # connection.info flag for the next BEGIN


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **options: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No pre-ping (one round trip per checkout): a dead connection fails one request, which
        # the caller retries (Trustly re-delivers a notification), and the pool drops it.
        options.setdefault("pool_pre_ping", False)
        options.setdefault("pool_size", 10)
        options.setdefault("max_overflow", 10)
        return create_engine(url, **options)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, **options)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue the BEGIN itself (IMMEDIATE, below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # Take the write lock at the start: a read-then-write transaction cannot deadlock
        # against another writer or fail on upgrade, it waits for its turn. A read-only unit
        # of work (pages, polls) takes no lock and does not queue behind writers.
        if connection.info.pop(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
