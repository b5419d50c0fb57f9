"""Many rows in one statement, for writes kept back until commit (a batch of notifications).

PostgreSQL gets each column as one array parameter, unpacked by ``unnest``: a single statement
and a single execution however many rows there are, with SQL text that never changes (psycopg
prepares it). An ``executemany`` costs the client and the server a statement per row. SQLite
gets ``executemany``: it runs in-process, where a statement per row is cheap. The SQL is built
from the Table's own table and column names; every value is a bound parameter.

Inside :func:`pipeline`, PostgreSQL statements are sent without waiting for their results: all
of a commit's writes go in one round trip. Rows returned are read by calling the function each
write returns, after the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row, namedtuple_row
from sqlalchemy import Connection, Table, bindparam, or_, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError

__all__ = [
    "Check",
    "Fetch",
    "Part",
    "add_to_rows",
    "insert_rows",
    "no_check",
    "once",
    "pipeline",
    "run_unnest",
    "select_rows",
    "update_rows",
    "upsert_rows",
]

Fetch = Callable[[], list[Any]]
Check = Callable[[], None]  # raises when writes sent in a pipeline turned out wrong
Part = tuple[Table, Sequence[Mapping[str, Any]], str]  # rows of a table, as arrays named prefix+col

_STATEMENTS: dict[object, Any] = {}


@contextmanager
def pipeline(db: Connection) -> Iterator[None]:
    """Send the PostgreSQL statements made inside without waiting: one round trip in all, at the
    end, where an error of any of them is raised (as SQLAlchemy raises it). SQLite: nothing."""
    if db.dialect.name != "postgresql":
        yield
        return
    driver = db.connection.driver_connection
    try:
        with driver.pipeline():  # type: ignore[union-attr]
            yield
    except psycopg.Error as error:
        raise DBAPIError.instance(None, None, error, psycopg.Error, hide_parameters=True) from error


def select_rows(
    db: Connection, table: Table, any_of: Mapping[str, Sequence[Any]], *, lock: bool = False
) -> Fetch:
    """The rows (as dicts) whose column is one of the values given for it, for any of the
    columns in ``any_of``; with ``lock``, locked FOR UPDATE in id order. Returns a function
    giving them (inside :func:`pipeline`: read once it is done)."""
    columns = tuple(any_of)
    if db.dialect.name == "postgresql":
        where = " OR ".join(f"{c} = ANY(%({c})s)" for c in columns)
        sql = f"SELECT * FROM {table.name} WHERE {where}"  # noqa: S608
        if lock:
            sql += " ORDER BY id FOR UPDATE"
        cursor = db.connection.driver_connection.cursor(row_factory=dict_row)  # type: ignore[union-attr]
        # Planned at every execution, never prepared: a prepared statement's generic plan,
        # chosen while the table was small (a new deployment, or the inbox minutes after a
        # start), goes on scanning the whole table as it grows, until an ANALYZE.
        cursor.execute(sql, {c: list(values) for c, values in any_of.items()}, prepare=False)
        return lambda: list(cursor.fetchall())

    def build() -> Any:
        conditions = [table.c[c].in_(bindparam(f"b_{c}", expanding=True)) for c in columns]
        query = select(table).where(or_(*conditions))
        return query.order_by(table.c.id).with_for_update() if lock else query

    statement = once(("select", table.name, columns, lock), build)
    params = {f"b_{c}": list(values) for c, values in any_of.items()}
    rows = [dict(row._mapping) for row in db.execute(statement, params)]
    return lambda: rows


def insert_rows(
    db: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    skip_conflicts_on: str | None = None,
    returning: Sequence[str] = (),
    before: Sequence[tuple[Table, Sequence[Mapping[str, Any]]]] = (),
) -> Fetch:
    """INSERT ``rows`` (all with the same keys); with ``skip_conflicts_on`` (a unique column),
    rows that would duplicate one stored are left out (ON CONFLICT DO NOTHING). Returns a
    function giving the ``returning`` columns of the rows inserted, in no particular order.

    ``before``: rows of other tables to insert too, first; on PostgreSQL in the same statement
    (each statement costs the client and the server more than its rows do)."""
    before = [(other, other_rows) for other, other_rows in before if other_rows]
    if not rows or db.dialect.name != "postgresql":
        for other, other_rows in before:
            insert_rows(db, other, other_rows)
    if not rows:
        return list
    columns = tuple(rows[0])
    key: tuple[object, ...] = ("insert", table.name, columns, skip_conflicts_on, tuple(returning))
    key += (db.dialect.name, *((other.name, tuple(other_rows[0])) for other, other_rows in before))
    if db.dialect.name == "postgresql":
        parts = [(other, other_rows, f"b{i}_") for i, (other, other_rows) in enumerate(before)]

        def sql(*unnests: str) -> str:
            *firsts, last = unnests
            ctes = [
                f"b{i} AS (INSERT INTO {other.name} ({', '.join(other_rows[0])}) "  # noqa: S608
                f"SELECT * FROM {unnest})"
                for i, ((other, other_rows), unnest) in enumerate(zip(before, firsts, strict=True))
            ]
            statement = f"WITH {', '.join(ctes)} " if ctes else ""
            statement += f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM {last}"  # noqa: S608
            if skip_conflicts_on:
                statement += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
            return statement + (f" RETURNING {', '.join(returning)}" if returning else "")

        return run_unnest(db, key, sql, *parts, (table, rows, ""))

    def build() -> Any:
        statement: Any = sqlite.insert(table)
        if skip_conflicts_on:
            statement = statement.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
        return statement.returning(*(table.c[c] for c in returning)) if returning else statement

    result = db.execute(once(key, build), [dict(row) for row in rows])
    inserted = list(result) if returning else []
    return lambda: inserted


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
        run_unnest(
            db,
            key,
            lambda unnest: (
                f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM {unnest} "  # noqa: S608
                f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                + ", ".join(f"{c} = EXCLUDED.{c}" for c in updated)
            ),
            (table, rows, ""),
        )
        return

    def build() -> Any:
        statement = sqlite.insert(table)
        set_ = {c: statement.excluded[c] for c in updated}
        return statement.on_conflict_do_update(index_elements=list(keys), set_=set_)

    db.execute(once(key, build), [dict(row) for row in rows])


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
        run_unnest(
            db,
            key,
            lambda unnest: (
                f"UPDATE {name} SET {sets} FROM {unnest} AS v({', '.join(columns)}) "  # noqa: S608
                f"WHERE {name}.id = v.id"
            ),
            (table, rows, ""),
        )
        return

    def build() -> Any:
        values: dict[Any, Any] = {table.c[c]: bindparam(f"b_{c}") for c in changed}
        return update(table).where(table.c.id == bindparam("b_id")).values(values)

    params = [{f"b_{c}": row[c] for c in columns} for row in rows]
    db.execute(once(key, build), params)


def add_to_rows(db: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Add each of ``rows``' values to the row whose ``id`` it names (each id once), locking
    the rows in id order: two transactions moving the same rows cannot deadlock."""
    if not rows:
        return
    columns = tuple(rows[0])
    changed = [c for c in columns if c != "id"]
    name = table.name
    if db.dialect.name == "postgresql":
        # One statement. The rows are locked by the sorted SELECT first (FOR NO KEY UPDATE, as
        # an UPDATE locks: inserts referring to these rows are not blocked), so the order of the
        # UPDATE's own plan does not matter.
        id_type = table.c.id.type.compile(db.dialect)
        sets = ", ".join(f"{c} = {name}.{c} + v.{c}" for c in changed)
        run_unnest(
            db,
            ("add", name, columns),
            lambda unnest: (
                f"WITH locked AS (SELECT id FROM {name} "  # noqa: S608
                f"WHERE id = ANY(CAST(%(id)b AS {id_type}[])) ORDER BY id FOR NO KEY UPDATE) "
                f"UPDATE {name} SET {sets} FROM locked, {unnest} AS v({', '.join(columns)}) "
                f"WHERE {name}.id = locked.id AND {name}.id = v.id"
            ),
            (table, rows, ""),
        )
        return

    def build() -> Any:
        values = {table.c[c]: table.c[c] + bindparam(f"b_{c}") for c in changed}
        return update(table).where(table.c.id == bindparam("b_id")).values(values)

    params = [{f"b_{c}": row[c] for c in columns} for row in rows]
    db.execute(once(("add", name, columns), build), params)


def run_unnest(db: Connection, key: object, sql: Callable[..., str], *parts: Part) -> Fetch:
    """PostgreSQL: run ``sql(unnest, ...)``, given an ``unnest(...)`` of arrays for each part,
    on psycopg itself: its binary arrays need no escaping (the raw notification bodies are JSON:
    text arrays cost 5 times as much), and SQLAlchemy cannot ask for them. Same connection, same
    transaction. Returns a function giving the rows the statement returns."""
    arrays: dict[str, list[Any]] = {}
    formats: list[str] = []
    for _, rows, prefix in parts:
        for c in rows[0]:
            values = arrays[prefix + c] = [row[c] for row in rows]
            # A column of NULLs only has no type to send in binary: that one goes as text.
            formats.append("s" if all(v is None for v in values) else "b")

    def build() -> str:
        unnests, formats_left = [], iter(formats)
        for table, rows, prefix in parts:
            casts = (
                f"CAST(%({prefix}{c}){next(formats_left)} AS "
                f"{table.c[c].type.compile(db.dialect)}[])"
                for c in rows[0]
            )
            unnests.append(f"unnest({', '.join(casts)})")
        return sql(*unnests)

    statement: str = once((key, tuple(formats)), build)
    cursor = db.connection.driver_connection.cursor(row_factory=namedtuple_row)  # type: ignore[union-attr]
    try:
        cursor.execute(statement, arrays)
    except psycopg.Error as error:  # as SQLAlchemy would raise it (IntegrityError...)
        raise DBAPIError.instance(
            statement, None, error, psycopg.Error, hide_parameters=True
        ) from error
    return lambda: list(cursor.fetchall()) if cursor.description else []


def once(key: object, build: Callable[[], Any]) -> Any:
    """A statement built once per process (the adapters share one cache; keys name their
    owner): SQLAlchemy memoizes its cache key on the object, so executing it again skips
    building the expression and computing the key (~0.1-0.3 ms each)."""
    statement = _STATEMENTS.get(key)
    if statement is None:
        statement = _STATEMENTS[key] = build()
    return statement


def no_check() -> None:
    """The check of writes that need none."""
