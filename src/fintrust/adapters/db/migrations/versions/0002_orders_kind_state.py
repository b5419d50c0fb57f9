"""Orders by kind and state: the worker asks for the payouts in flight every round and /metrics
at every scrape; without an index each asks by reading every order ever made.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 11:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_kind_state", ["kind", "state"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_kind_state")
