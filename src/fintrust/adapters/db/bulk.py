"""Many rows in one statement, for writes kept back until commit (a batch of notifications).

PostgreSQL gets each column as one array parameter, unpacked by ``unnest``: a single statement
and a single execution however many rows there are, with SQL text that never changes (psycopg
prepares it). An ``executemany`` costs the client and the server a statement per row. SQLite
gets ``executemany``: it runs in-process, where a statement per row is cheap. The SQL is built
from the Table's own table and column names; every value is a bound parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from sqlalchemy import Connection, Table, bindparam, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError

__all__ = ["insert_rows", "update_rows", "upsert_rows"]

_STATEMENTS: dict[object, Any] = {}


def insert_rows(
    db: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts_on: str | None = None,
    returning: Sequence[str] = (),
) -> list[Row[Any]]:
    """INSERT ``rows`` (all with the same keys); with ``skip_conflicts_on`` (a unique column),
    rows that would duplicate one stored are left out (ON CONFLICT DO NOTHING). Returns the
    ``returning`` columns of the rows inserted, in no particular order."""
    if not rows:
        return []
    columns = tuple(rows[0])
    key = ("insert", table.name, columns, skip_conflicts_on, tuple(returning), db.dialect.name)
    if db.dialect.name == "postgresql":

        def sql(unnest: str) -> str:
            statement = f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM {unnest}"  # noqa: S608
            if skip_conflicts_on:
                statement += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
            return statement + (f" RETURNING {', '.join(returning)}" if returning else "")

        return _postgresql(db, key, sql, table, rows, columns=columns)

    def build() -> Any:
        statement: Any = sqlite.insert(table)
        if skip_conflicts_on:
            statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
        return statement.returning(*(table.c[c] for c in returning)) if returning else statement

    result = db.execute(_once(key, build), [dict(row) for row in rows])
    return list(result) if returning else []


def upsert_rows(
    db: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *, keys: Sequence[str]
) -> None:
    """INSERT ``rows``, or UPDATE the other columns of a row with the same ``keys``; of rows with
    the same keys, the last one wins."""
    latest = {tuple(row[k] for k in keys): row for row in rows}  # one statement: one per key
    rows = list(latest.values())
    if not rows:
        return
    columns = tuple(rows[0])
    updated = [c for c in columns if c not in keys]
    key = ("upsert", table.name, columns, tuple(keys), db.dialect.name)
    if db.dialect.name == "postgresql":
        _postgresql(
            db,
            key,
            lambda unnest: (
                f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM {unnest} "  # noqa: S608
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
            ),
            table,
            rows,
            columns=columns,
        )
        return

    def build() -> Any:
        statement = sqlite.insert(table)
        set_ = {c: statement.excluded[c] for c in updated}
        return statement.on_conflict_do_update(index_elements=list(keys), set_=set_)

    db.execute(_once(key, build), [dict(row) for row in rows])


def update_rows(db: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """UPDATE the rows whose ``id`` each of ``rows`` names (all with the same keys, each id
    once) to its other values. The rows should be locked already: PostgreSQL updates them in
    the order of its plan, not of ``rows``."""
    if not rows:
        return
    columns = tuple(rows[0])
    changed = [c for c in columns if c != "id"]
    key = ("update", table.name, columns, db.dialect.name)
    name = table.name
    if db.dialect.name == "postgresql":
        sets = ", ".join(f"{c} = v.{c}" for c in changed)
        _postgresql(
            db,
            key,
            lambda unnest: (
                f"UPDATE {name} SET {sets} FROM {unnest} AS v({', '.join(columns)}) "  # noqa: S608
                f"WHERE {name}.id = v.id"
            ),
            table,
            rows,
            columns=columns,
        )
        return

    def build() -> Any:
        values: dict[Any, Any] = {table.c[c]: bindparam(f"b_{c}") for c in changed}
        return update(table).where(table.c.id == bindparam("b_id")).values(values)

    params = [{f"b_{c}": row[c] for c in columns} for row in rows]
    db.execute(_once(key, build), params)


def _postgresql(
    db: Connection,
    key: object,
    sql: Callable[[str], str],
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    columns: Sequence[str],
) -> list[Any]:
    """Run ``sql(unnest)`` with one array per column, on psycopg itself: its binary arrays need
    no escaping (the raw notification bodies are JSON: text arrays cost 5 times as much), and
    SQLAlchemy cannot ask for them. Same connection, same transaction."""
    arrays = {c: [row[c] for row in rows] for c in columns}
    # A column of NULLs only has no type to send in binary: that one goes as text.
    formats = tuple("s" if all(v is None for v in arrays[c]) else "b" for c in columns)
    statement: str = _once((key, formats), lambda: sql(_unnest(db, table, columns, formats)))
    cursor = db.connection.driver_connection.cursor(row_factory=namedtuple_row)  # type: ignore[union-attr]
    try:
        cursor.execute(statement, arrays)
    except psycopg.Error as error:  # as SQLAlchemy would raise it (IntegrityError...)
        raise DBAPIError.instance(
            statement, None, error, psycopg.Error, hide_parameters=True
        ) from error
    return list(cursor.fetchall()) if cursor.description else []


def _unnest(db: Connection, table: Table, columns: Sequence[str], formats: Sequence[str]) -> str:
    """``unnest(CAST(%(a)b AS type[]), ...)``: one array per column, zipped into rows."""
    casts = (
        f"CAST(%({c}){f} AS {table.c[c].type.compile(db.dialect)}[])"
        for c, f in zip(columns, formats, strict=True)
    )
    return f"unnest({', '.join(casts)})"


def _once(key: object, build: Any) -> Any:
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return statement
