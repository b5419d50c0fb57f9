"""Notifications handled in batches (``decide_batch``: one transaction, writes kept back and
sent at commit): the same effects as one by one, on SQLite and PostgreSQL, and a batch that
fails is handled again notification by notification."""

from __future__ import annotations

import json
import logging
import uuid
from functools import partial
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from fintrust.adapters.db.repositories import ConcurrentDuplicateError
from fintrust.adapters.db.schema import (
    bank_accounts,
    ledger_transactions,
    ledger_transfers,
    notification_inbox,
    notification_receipts,
)
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import TRUSTLY, LedgerError, LedgerTransaction, Transfer, wallet
from fintrust.domain.money import Money
from fintrust.services.notifications import Decision, decide_batch, receive
from fintrust.trustly import build_notification
from tests.conftest import KeyPair
from tests.integration.db.orders import (
    Uow,
    assert_books_sound,
    count,
    customer,
    deposit_order,
    new_id,
    signed,
)

FALLBACK = "handling each alone"


@pytest.fixture
def uow(engine: Engine) -> Uow:
    return partial(SqlUnitOfWork, engine)


def account_notification(keys: KeyPair, order: Any, account_id: str) -> bytes:
    attributes = {"bank": "Bank", "clearinghouse": "SWEDEN", "descriptor": "**1234"}
    return signed(keys, "account", order, accountid=account_id, verified="1", attributes=attributes)


def decided(uow: Uow, keys: KeyPair, bodies: list[bytes]) -> list[Decision]:
    results = decide_batch(uow, [receive(body, verifier=keys.verifier) for body in bodies])
    assert all(isinstance(r, Decision) for r in results), results
    return [r for r in results if isinstance(r, Decision)]


def _data(body: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(body)["params"]["data"]
    return data


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def wallet_balance(uow: Uow, customer_id: int) -> Money:
    with uow() as work:
        return work.ledger.balance(wallet(customer_id), "EUR").posted


def test_a_batch_books_every_notification_as_if_alone(
    uow: Uow, trustly_keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    customers = [customer(uow, f"cust-{i}") for i in range(3)]
    orders = [deposit_order(uow, c, f"{10 * (i + 1)}.00") for i, c in enumerate(customers)]
    # Each order's pending, credit and account, in a different arrival order for each.
    bodies = [
        signed(trustly_keys, "credit", orders[0]),
        signed(trustly_keys, "pending", orders[0]),
        account_notification(trustly_keys, orders[0], "1000000001"),
        signed(trustly_keys, "pending", orders[1]),
        account_notification(trustly_keys, orders[1], "1000000002"),
        signed(trustly_keys, "credit", orders[1]),
        account_notification(trustly_keys, orders[2], "1000000003"),
        signed(trustly_keys, "credit", orders[2]),
        signed(trustly_keys, "pending", orders[2]),
    ]
    with caplog.at_level(logging.WARNING, logger="fintrust.notifications"):
        decisions = decided(uow, trustly_keys, bodies)
    assert FALLBACK not in caplog.text  # handled as one batch, not one by one
    assert [d.reply_status for d in decisions] == ["OK"] * len(bodies)
    assert [wallet_balance(uow, c) for c in customers] == [
        Money.of(amount, "EUR") for amount in ("10.00", "20.00", "30.00")
    ]
    with uow() as work:
        assert work.ledger.balance(TRUSTLY, "EUR").posted == Money.of("60.00", "EUR")
        for order in orders:
            row = work.orders.get(order.id)
            assert row is not None
            assert (row.state, row.credited) == ("credited", order.amount)
            inbox = work.inbox.of_order(order.id)
            assert sorted(r.method for r in inbox) == ["account", "credit", "pending"]
            assert {(r.reply_status, r.trustly_order_id) for r in inbox} == {
                ("OK", order.trustly_order_id)
            }
            assert all(r.outcome for r in inbox)
        saved = work.connection.execute(select(bank_accounts.c.account_id)).scalars()
        assert sorted(saved) == ["1000000001", "1000000002", "1000000003"]
    assert count(uow, notification_inbox) == 9
    assert count(uow, notification_receipts) == 0  # the inbox rows are the record
    assert count(uow, ledger_transfers) == 3
    assert_books_sound(uow)


def test_duplicates_in_a_batch_and_from_before_have_one_effect(
    uow: Uow, trustly_keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    customer_id = customer(uow)
    first, second = deposit_order(uow, customer_id, "5.00"), deposit_order(uow, customer_id, "7.00")
    earlier = signed(trustly_keys, "credit", first)
    assert [d.reply_status for d in decided(uow, trustly_keys, [earlier])] == ["OK"]
    again = signed(trustly_keys, "credit", second)
    with caplog.at_level(logging.WARNING, logger="fintrust.notifications"):
        decisions = decided(uow, trustly_keys, [again, earlier, again, earlier])
    assert FALLBACK not in caplog.text
    assert [d.reply_status for d in decisions] == ["OK"] * 4
    assert [d.outcome.startswith("repeat: ") for d in decisions] == [False, True, True, True]
    assert wallet_balance(uow, customer_id) == Money.of("12.00", "EUR")
    assert count(uow, ledger_transactions) == 2
    assert count(uow, notification_inbox) == 2
    assert count(uow, notification_receipts, notification_receipts.c.verdict == "repeated") == 3
    assert_books_sound(uow)


def test_refused_notifications_in_a_batch_leave_only_their_receipt(
    uow: Uow, trustly_keys: KeyPair, merchant_keys: KeyPair
) -> None:
    customer_id = customer(uow)
    order = deposit_order(uow, customer_id, "9.00")
    unknown = build_notification(
        "credit",
        str(uuid.uuid4()),
        {**_data(signed(trustly_keys, "credit", order)), "orderid": new_id(), "messageid": "x"},
        trustly_keys.signer,
    )
    forged = signed(merchant_keys, "credit", order)  # not Trustly's key
    good = signed(trustly_keys, "credit", order)
    decisions = decided(uow, trustly_keys, [unknown, forged, good])
    assert [(d.status_code, d.reply_status) for d in decisions] == [
        (400, None),
        (400, None),
        (200, "OK"),
    ]
    assert "no order" in decisions[0].outcome
    assert "signature" in decisions[1].outcome
    assert wallet_balance(uow, customer_id) == Money.of("9.00", "EUR")
    assert count(uow, notification_inbox) == 1  # only the good one
    assert count(uow, notification_receipts, notification_receipts.c.verdict == "rejected") == 2
    assert_books_sound(uow)


def test_a_failing_batch_is_handled_again_one_by_one(
    uow: Uow, trustly_keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    customer_id = customer(uow)
    orders = [deposit_order(uow, customer_id, amount) for amount in ("1.00", "2.00", "4.00")]
    bodies = [signed(trustly_keys, "credit", order) for order in orders]
    # The ledger already holds the second credit's transaction (as if booked and then the inbox
    # row lost): writing the batch fails, and so does that credit alone; the others go through.
    with uow() as work:
        reference = f"notification:{_data(bodies[1])['notificationid']}"
        work.connection.execute(
            insert(ledger_transactions).values(
                reference=reference, description="booked before", created_at=work.now
            )
        )
        work.commit()
    with caplog.at_level(logging.INFO, logger="fintrust.notifications"):
        results = decide_batch(uow, [receive(b, verifier=trustly_keys.verifier) for b in bodies])
    assert FALLBACK in caplog.text
    assert isinstance(results[0], Decision)
    assert results[0].reply_status == "OK"
    assert isinstance(results[1], Exception)
    assert "recorded before" in str(results[1])
    assert isinstance(results[2], Decision)
    assert results[2].reply_status == "OK"
    assert wallet_balance(uow, customer_id) == Money.of("5.00", "EUR")
    assert count(uow, notification_inbox) == 2  # the failed one is left for Trustly to resend
    assert_books_sound(uow)
    # Logged once each, as it ended: not for the batch that was rolled back, too.
    handled = [r for r in caplog.records if r.getMessage() == "notification handled"]
    assert [getattr(r, "notificationid", None) for r in handled] == [
        _data(bodies[i])["notificationid"] for i in (0, 2)
    ]
    assert [getattr(r, "order_id", None) for r in handled] == [orders[0].id, orders[2].id]


def test_each_notification_is_logged_once_with_its_result(
    uow: Uow, trustly_keys: KeyPair, merchant_keys: KeyPair, caplog: pytest.LogCaptureFixture
) -> None:
    order = deposit_order(uow, customer(uow), "3.00")
    good = signed(trustly_keys, "credit", order)
    forged = signed(merchant_keys, "pending", order)
    with caplog.at_level(logging.INFO, logger="fintrust.notifications"):
        decided(uow, trustly_keys, [good, forged, good])
    lines = [
        (r.levelname, r.getMessage(), getattr(r, "method", None), getattr(r, "result", None))
        for r in caplog.records
    ]
    assert lines == [
        ("INFO", "notification handled", "credit", "accepted"),
        ("WARNING", "notification refused", None, "refused"),  # the signature is not believed
        ("INFO", "notification handled", "credit", "repeated"),
    ]
    refused = caplog.records[1]
    assert getattr(refused, "http_status", None) == 400
    assert "signature" in getattr(refused, "outcome", "")
    assert {getattr(r, "order_id", None) for r in caplog.records[::2]} == {order.id}


def test_a_notification_stored_meanwhile_by_another_transaction_fails_the_flush(
    postgres_engine: Engine,
) -> None:
    """The safety net under the batch's own duplicate check: when another process stores one of
    the batch's notifications after the batch looked (PostgreSQL only: on SQLite, BEGIN
    IMMEDIATE lets no other writer in meanwhile)."""
    uow = partial(SqlUnitOfWork, postgres_engine)
    with SqlUnitOfWork(postgres_engine, write_behind=True) as batch:
        batch.inbox.load({"n-1"})()
        assert batch.inbox.claim("n-1", "credit", "{}")
        with uow() as other:
            assert other.inbox.claim("n-1", "credit", "{}")
            other.commit()
        with pytest.raises(ConcurrentDuplicateError, match="n-1"):
            batch.commit()
    assert count(uow, notification_inbox) == 1


def test_a_write_refused_at_commit_leaves_nothing_written(uow: Uow, engine: Engine) -> None:
    """A write kept back that the database refuses at commit (on PostgreSQL: inside the one
    round trip) fails the commit as a database error, and the unit of work writes nothing."""
    customer_id = customer(uow)
    order = deposit_order(uow, customer_id, "3.00")
    credit = LedgerTransaction(
        "test:first", "first", (Transfer("t-1", TRUSTLY, wallet(customer_id), eur("3.00")),)
    )
    with uow() as work:
        work.ledger.record(credit)
        work.commit()
    again = LedgerTransaction(  # a new transaction reusing the transfer's id
        "test:second", "second", (Transfer("t-1", TRUSTLY, wallet(customer_id), eur("3.00")),)
    )
    with SqlUnitOfWork(engine, write_behind=True) as work:
        work.orders.update(order.id, state="credited")
        work.inbox.receipt("{}", "rejected", "a refusal in the same transaction")
        work.ledger.record(again)
        with pytest.raises((IntegrityError, LedgerError)):
            work.commit()
    with uow() as work:
        row = work.orders.get(order.id)
        assert row is not None
        assert row.state == "started"
        assert work.ledger.balance(wallet(customer_id), "EUR").posted == eur("3.00")
    assert count(uow, notification_receipts) == 0
    assert count(uow, ledger_transactions) == 1
    assert_books_sound(uow)
