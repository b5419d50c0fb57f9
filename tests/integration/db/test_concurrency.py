"""Concurrency on PostgreSQL (several app processes or workers on one database): the same
notification at once, different notifications for one order at once, withdrawals racing for
one wallet, and two workers draining one outbox. Each must have exactly one effect.

Threads are released together by a barrier; each uses its own connection from the pool.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, ClassVar, TypeVar

import httpx
import pytest
from sqlalchemy import Engine, func, select

from fintrust.adapters.db.schema import (
    bank_accounts,
    ledger_transactions,
    ledger_transfers,
    notification_inbox,
    notification_receipts,
)
from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.domain.ledger import SUSPENSE, TRUSTLY, wallet
from fintrust.domain.money import Money
from fintrust.services import outbox as outbox_service
from fintrust.services import payments
from fintrust.services.notifications import (
    Decision,
    NotificationAnswer,
    decide_batch,
    handle_notification,
    receive,
)
from fintrust.trustly import (
    TrustlyClient,
    build_result,
    decode_json,
    read_notification_reply,
    signed_part,
)
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

THREADS = 8
NOTIFY = "https://merchant.test/trustly/notifications"
T = TypeVar("T")


@pytest.fixture
def uow(postgres_engine: Engine) -> Uow:
    return partial(SqlUnitOfWork, postgres_engine)


def at_once(count: int, work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``count`` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def run(index: int) -> T:
        barrier.wait(timeout=30)
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


# ---------------------------------------------------------------- building orders directly


def account(keys: KeyPair, order: Any, account_id: str) -> bytes:
    return signed(
        keys,
        "account",
        order,
        accountid=account_id,
        verified="1",
        attributes={"bank": "Bank", "clearinghouse": "SWEDEN", "descriptor": "**1234"},
    )


class Notifier:
    """``handle_notification`` as the endpoint calls it."""

    def __init__(self, uow: Uow, trustly_keys: KeyPair, merchant_keys: KeyPair) -> None:
        self.uow = uow
        self.trustly = trustly_keys
        self.merchant = merchant_keys

    def __call__(self, body: bytes) -> NotificationAnswer:
        return handle_notification(
            self.uow, body, verifier=self.trustly.verifier, signer=self.merchant.signer
        )

    def status(self, body: bytes, answer: NotificationAnswer) -> str:
        assert answer.status_code == 200, answer.body
        sent = decode_json(body)
        return read_notification_reply(
            answer.body,
            method=sent["method"],
            uuid=sent["params"]["uuid"],
            verifier=self.merchant.verifier,
        ).status


@pytest.fixture
def notify(uow: Uow, trustly_keys: KeyPair, merchant_keys: KeyPair) -> Notifier:
    return Notifier(uow, trustly_keys, merchant_keys)


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


# ---------------------------------------------------------------- notifications


def test_the_same_notification_from_eight_threads_has_one_effect(
    uow: Uow, notify: Notifier, trustly_keys: KeyPair
) -> None:
    customer_id = customer(uow)
    for round_ in range(5):  # a few rounds: each a fresh race on a fresh notification
        order = deposit_order(uow, customer_id, "100.00")
        body = signed(trustly_keys, "credit", order)
        notification_id = decode_json(body)["params"]["data"]["notificationid"]
        answers = at_once(THREADS, lambda _, body=body: notify(body))
        assert {notify.status(body, a) for a in answers} == {"OK"}
        assert len({a.body for a in answers}) == 1  # the same signed reply, byte for byte
        inbox_rows = notification_inbox.c.notification_id == notification_id
        assert count(uow, notification_inbox, inbox_rows) == 1
        reference = f"notification:{notification_id}"
        assert count(uow, ledger_transactions, ledger_transactions.c.reference == reference) == 1
        with uow() as work:
            balance = work.ledger.balance(wallet(customer_id), "EUR").posted
        assert balance == eur(f"{100 * (round_ + 1)}.00")
    verdicts = Counter[str]()
    with uow() as work:
        rows = work.connection.execute(
            select(notification_receipts.c.verdict, func.count()).group_by(
                notification_receipts.c.verdict
            )
        )
        verdicts.update({verdict: int(n) for verdict, n in rows})
    assert verdicts == {"repeated": 5 * (THREADS - 1)}  # the first of each is its inbox row
    assert_books_sound(uow)


def test_eight_different_notifications_for_one_order_at_once_each_apply_once(
    uow: Uow, notify: Notifier, trustly_keys: KeyPair
) -> None:
    customer_id = customer(uow)
    order = deposit_order(uow, customer_id, "100.00")
    bodies = [
        signed(trustly_keys, "pending", order),
        signed(trustly_keys, "credit", order),
        account(trustly_keys, order, "1111111111"),
        signed(trustly_keys, "kyc", order, kycentityid="42"),
        signed(trustly_keys, "emulatorprobe", order),  # a method we cannot know
        signed(trustly_keys, "pending", order),
        account(trustly_keys, order, "2222222222"),
        signed(trustly_keys, "credit", order),  # a second credit: money we did not ask for
    ]
    answers = at_once(THREADS, lambda i: notify(bodies[i]))
    statuses = [notify.status(body, answer) for body, answer in zip(bodies, answers, strict=True)]
    assert statuses == ["OK", "OK", "OK", "CONTINUE", "OK", "OK", "OK", "OK"]
    assert count(uow, notification_inbox) == THREADS
    assert count(uow, bank_accounts, bank_accounts.c.customer_id == customer_id) == 2
    with uow() as work:
        row = work.orders.get(order.id)
        assert row is not None
        # Whichever credit came first was credited, the other parked: same end either way.
        assert (row.state, row.credited, row.in_suspense) == ("review", 10000, 10000)
        assert work.ledger.balance(wallet(customer_id), "EUR").posted == eur("100.00")
        assert work.ledger.balance(SUSPENSE, "EUR").posted == eur("100.00")
        assert work.ledger.balance(TRUSTLY, "EUR").posted == eur("200.00")
        assert len(work.suspense.open_items()) == 1
    assert count(uow, ledger_transactions) == 2
    assert_books_sound(uow)


def test_overlapping_batches_from_eight_threads_have_one_effect_each(
    uow: Uow, trustly_keys: KeyPair
) -> None:
    """Eight app processes each batching the same notifications (in different orders) at once:
    orders locked in id order, duplicates found after the lock; each notification books once."""
    customer_id = customer(uow)
    orders = [deposit_order(uow, customer_id, amount) for amount in ("1.00", "2.00", "4.00")]
    bodies = [signed(trustly_keys, method, o) for o in orders for method in ("pending", "credit")]
    received = [receive(body, verifier=trustly_keys.verifier) for body in bodies]

    def batch(index: int) -> list[Decision | Exception]:
        shift = index % len(received)
        return decide_batch(uow, received[shift:] + received[:shift])

    for results in at_once(THREADS, batch):
        assert [r.reply_status for r in results if isinstance(r, Decision)] == ["OK"] * 6
    assert count(uow, notification_inbox) == 6
    assert count(uow, ledger_transactions) == 3
    with uow() as work:
        assert work.ledger.balance(wallet(customer_id), "EUR").posted == eur("7.00")
    assert_books_sound(uow)


def funded(uow: Uow, notify: Notifier, keys: KeyPair, amount: str, currency: str = "EUR") -> int:
    """A customer whose deposit of ``amount`` was credited, with a verified account."""
    customer_id = customer(uow)
    order = deposit_order(uow, customer_id, amount, currency)
    for body in (account(keys, order, "1234567890"), signed(keys, "credit", order)):
        assert notify.status(body, notify(body)) == "OK"
    return customer_id


def test_notifications_racing_to_settle_one_payout_settle_it_once(
    uow: Uow, notify: Notifier, trustly_keys: KeyPair
) -> None:
    customer_id = funded(uow, notify, trustly_keys, "100.00")
    for _ in range(3):
        payout_id = payments.request_withdrawal(
            uow,
            customer_id=customer_id,
            amount=eur("40.00"),
            notification_url=NOTIFY,
            shopper_statement="fintrust",
        )
        with uow() as work:
            work.orders.update(payout_id, trustly_order_id=new_id(), state="sent")
            work.commit()
            payout = work.orders.get(payout_id)
        # Confirmation, failure, return and cancel all at once, each sent twice.
        methods = ["payoutconfirmation", "payoutfailed", "credit", "cancel"]
        bodies = [signed(trustly_keys, m, payout) for m in methods]
        answers = at_once(THREADS, lambda i, bodies=bodies: notify(bodies[i % 4]))
        assert all(a.status_code == 200 for a in answers)
        with uow() as work:
            row = work.orders.get(payout_id)
            assert row is not None
            assert row.state in ("failed", "returned")  # cancelled/failed, or paid and returned
            settlements = work.connection.execute(
                select(ledger_transfers.c.kind).where(
                    ledger_transfers.c.pending_id == row.pending_transfer_id
                )
            ).all()
            assert len(settlements) == 1
            balance = work.ledger.balance(wallet(customer_id), "EUR")
        assert (balance.posted, balance.available) == (eur("100.00"), eur("100.00"))
        assert_books_sound(uow)


# ---------------------------------------------------------------- withdrawals


@pytest.mark.parametrize("currency", ["EUR", "SEK"], ids=["wallet-currency", "other-currency"])
def test_withdrawals_racing_for_one_wallet_never_overdraw_it(
    uow: Uow, notify: Notifier, trustly_keys: KeyPair, currency: str
) -> None:
    """The customer's wallet is opened in EUR; a SEK deposit opens a SEK wallet on the way."""
    customer_id = funded(uow, notify, trustly_keys, "100.00", currency)

    def withdraw(_: int) -> bool:
        try:
            payments.request_withdrawal(
                uow,
                customer_id=customer_id,
                amount=Money.of("60.00", currency),
                notification_url=NOTIFY,
                shopper_statement="fintrust",
            )
        except payments.WithdrawalRefusedError:
            return False
        return True

    assert sum(at_once(THREADS, withdraw)) == 1
    with uow() as work:
        balance = work.ledger.balance(wallet(customer_id), currency)
    assert (balance.posted, balance.available) == (
        Money.of("100.00", currency),
        Money.of("40.00", currency),
    )
    assert_books_sound(uow)


# ---------------------------------------------------------------- the outbox


class FakeTrustly(httpx.BaseTransport):
    """Answers every call, signed, as Trustly accepts an AccountPayout; records what it got."""

    orders: ClassVar[dict[str, str]] = {}  # call UUID -> Trustly's order id, shared
    lock = threading.Lock()

    def __init__(self, keys: KeyPair) -> None:
        self.keys = keys
        self.received: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        part = signed_part(decode_json(request.read()))
        assert part.method is not None
        assert part.uuid is not None
        self.received.append(part.uuid)
        with self.lock:
            order_id = self.orders.setdefault(part.uuid, new_id())
        time.sleep(0.002)  # a network round trip: lets the other worker run meanwhile
        body = build_result(
            part.method, part.uuid, {"orderid": order_id, "result": "1"}, self.keys.signer
        )
        return httpx.Response(200, content=body)


def client(transport: httpx.BaseTransport, trustly: KeyPair, merchant: KeyPair) -> TrustlyClient:
    return TrustlyClient(
        username="merchant",
        password="secret",
        signer=merchant.signer,
        verifier=trustly.verifier,
        url="https://trustly.test/api/1",
        transport=transport,
        retries=0,
    )


@pytest.fixture
def fake_trustlys(trustly_keys: KeyPair) -> Iterator[list[FakeTrustly]]:
    yield [FakeTrustly(trustly_keys), FakeTrustly(trustly_keys)]
    FakeTrustly.orders.clear()


def test_two_workers_draining_one_outbox_send_every_call_once(
    uow: Uow,
    notify: Notifier,
    trustly_keys: KeyPair,
    merchant_keys: KeyPair,
    fake_trustlys: list[FakeTrustly],
) -> None:
    customer_id = funded(uow, notify, trustly_keys, "1000.00")
    payouts = [
        payments.request_withdrawal(
            uow,
            customer_id=customer_id,
            amount=eur("10.00"),
            notification_url=NOTIFY,
            shopper_statement="fintrust",
        )
        for _ in range(40)
    ]
    with uow() as work:
        expected = {row.uuid for order in payouts for row in work.outbox.of_order(order)}
    assert len(expected) == 40
    clients = [client(t, trustly_keys, merchant_keys) for t in fake_trustlys]

    def worker(index: int) -> int:
        sent = 0
        while counts := outbox_service.drain_outbox(uow, clients[index], limit=3):
            assert set(counts) == {"done"}, counts
            sent += counts["done"]
        return sent

    sent = at_once(2, worker)
    received = fake_trustlys[0].received + fake_trustlys[1].received
    assert Counter(received) == dict.fromkeys(expected, 1)  # every call once, by one worker
    assert sum(sent) == 40
    assert all(t.received for t in fake_trustlys), "both workers should have taken a share"
    with uow() as work:
        assert work.outbox.counts() == {"done": 40}
        states = {work.orders.get(p).state for p in payouts}  # type: ignore[union-attr]
    assert states == {"sent"}
    for c in clients:
        c.close()
