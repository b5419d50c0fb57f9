"""Alembic environment: runs on the connection ``fintrust db upgrade`` passes in."""

from __future__ import annotations

from alembic import context

from fintrust.adapters.db.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through fintrust.adapters.db.migrate.upgrade()")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
