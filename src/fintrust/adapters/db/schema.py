"""Tables (SQLAlchemy Core). Money is integer minor units beside a 3-letter currency."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "MAX_ID",
    "api_keys",
    "bank_accounts",
    "customers",
    "idempotency_records",
    "ledger_accounts",
    "ledger_transactions",
    "ledger_transfers",
    "metadata",
    "notification_inbox",
    "notification_receipts",
    "orders",
    "outbox",
    "suspense_items",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Timestamp = DateTime(timezone=True)
# Row ids are INTEGER: 32 bits on PostgreSQL, which refuses even to compare a larger number with
# one (an error, not "no such row"): ids from outside are checked against this first.
MAX_ID = 2**31 - 1

customers = Table(
    "customers",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("end_user_id", String(64), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("firstname", String(100), nullable=False),
    Column("lastname", String(100), nullable=False),
    Column("email", String(200)),
    Column("country", String(2), nullable=False),
    Column("locale", String(10), nullable=False),
    Column("national_id", String(40)),
    Column("created_at", Timestamp, nullable=False),
)

ledger_accounts = Table(
    "ledger_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("code", String(200), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("no_overdraft", Boolean, nullable=False, default=False),
    Column("debits_posted", BigInteger, nullable=False, default=0),
    Column("credits_posted", BigInteger, nullable=False, default=0),
    Column("debits_pending", BigInteger, nullable=False, default=0),
    Column("credits_pending", BigInteger, nullable=False, default=0),
    UniqueConstraint("code", "currency", name="uq_ledger_accounts_code_currency"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("reference", String(200), nullable=False, unique=True),  # recording twice fails
    Column("description", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
)

ledger_transfers = Table(
    "ledger_transfers",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("transaction_id", Integer, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("debit_account_id", Integer, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("credit_account_id", Integer, ForeignKey("ledger_accounts.id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("kind", String(8), nullable=False),
    # At most one post or void per pending transfer: settling twice fails in the database.
    Column("pending_id", String(36), ForeignKey("ledger_transfers.id"), unique=True),
    Column("created_at", Timestamp, nullable=False),
    CheckConstraint("amount > 0", name="positive"),
    CheckConstraint("kind in ('posted', 'pending', 'post', 'void')", name="kind"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("kind", String(20), nullable=False),  # deposit | payout
    Column("product", String(20), nullable=False, default="wallet"),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("message_id", String(64), nullable=False, unique=True),
    Column("trustly_order_id", String(20), unique=True),
    Column("currency", String(3), nullable=False),
    Column("amount", BigInteger),  # minor units; null: chosen in the checkout
    Column("state", String(20), nullable=False),
    Column("credited", BigInteger),
    Column("in_suspense", BigInteger),
    Column("account_id", String(20)),  # payouts: the destination AccountID
    Column("pending_transfer_id", String(36)),  # payouts: the reservation
    Column("checkout_url", Text),
    Column("error", Text),
    Column("polled_at", Timestamp),  # payouts: the last GetWithdrawals
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("ix_orders_customer", "customer_id", "kind"),
    # The worker's poll of payouts in flight (every round) and /metrics (every scrape).
    Index("ix_orders_kind_state", "kind", "state"),
)

notification_receipts = Table(
    "notification_receipts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_at", Timestamp, nullable=False),
    Column("raw_body", Text, nullable=False),
    # repeated | rejected: an accepted notification's record is its inbox row (rows written
    # before 2026-11-27 also say accepted)
    Column("verdict", String(20), nullable=False),
    Column("error", Text),
)

notification_inbox = Table(
    "notification_inbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("notification_id", String(40), nullable=False, unique=True),
    Column("method", String(40), nullable=False),
    Column("trustly_order_id", String(20)),
    Column("message_id", String(64)),
    Column("order_id", Integer, ForeignKey("orders.id")),
    Column("reply_status", String(20), nullable=False),
    Column("outcome", Text, nullable=False),
    Column("received_at", Timestamp, nullable=False),
    Column("raw_body", Text, nullable=False),
    Index("ix_notification_inbox_order", "order_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("method", String(40), nullable=False),
    Column("uuid", String(36), nullable=False, unique=True),
    Column("order_id", Integer, ForeignKey("orders.id")),
    Column("data", Text, nullable=False),  # the Data object without credentials, as JSON
    Column("status", String(20), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", Timestamp, nullable=False),
    Column("claimed_until", Timestamp),
    Column("last_error", Text),
    Column("result", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Index("ix_outbox_due", "status", "next_attempt_at"),
)

bank_accounts = Table(
    "bank_accounts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), nullable=False),
    Column("account_id", String(20), nullable=False),
    Column("bank", String(100)),
    Column("clearing_house", String(40)),
    Column("descriptor", String(60)),
    Column("last_digits", String(10)),
    Column("verified", Boolean, nullable=False, default=False),
    Column("source", String(20), nullable=False),  # notification | select | register
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("customer_id", "account_id", name="uq_bank_accounts_customer_account"),
)

suspense_items = Table(
    "suspense_items",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("order_id", Integer, ForeignKey("orders.id")),
    Column("notification_id", String(40)),
    Column("amount", BigInteger, nullable=False),  # negative: taken back but never given
    Column("currency", String(3), nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(20), nullable=False, default="open"),
    Column("resolution", Text),
    Column("created_at", Timestamp, nullable=False),
    Column("resolved_at", Timestamp),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("key_hash", String(64), nullable=False, unique=True),  # SHA-256 hex of the key
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp),
)

idempotency_records = Table(
    "idempotency_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("api_key_id", Integer, ForeignKey("api_keys.id"), nullable=False),
    Column("key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    UniqueConstraint("api_key_id", "key", name="uq_idempotency_records_key"),
)
