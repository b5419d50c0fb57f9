"""The migrations build exactly the schema the code describes (adapters/db/schema.py)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from fintrust.adapters.db.schema import metadata


def test_the_migrated_database_matches_the_schema(engine: Engine) -> None:
    with engine.connect() as db:
        differences = compare_metadata(MigrationContext.configure(db), metadata)
    assert differences == []


def test_orders_are_found_by_kind_and_state_through_an_index(engine: Engine) -> None:
    indexes = {
        index["name"]: index["column_names"] for index in inspect(engine).get_indexes("orders")
    }
    assert indexes["ix_orders_kind_state"] == ["kind", "state"]
