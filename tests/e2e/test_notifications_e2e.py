"""Notifications and payouts end to end, merchant app against the real emulator, on both
databases: what must change nothing (forged, tampered, malformed, oversized, unknown order),
what must happen exactly once (repeats, duplicates, lost replies), and every payout outcome,
including an AccountPayout whose answer is lost and is re-sent as the identical request."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update

from fintrust.adapters.db.schema import (
    ledger_transactions,
    notification_inbox,
    notification_receipts,
    orders,
    outbox,
    suspense_items,
)
from fintrust.domain.ledger import TRUSTLY, totals_balance
from fintrust.domain.money import Money
from fintrust.services import outbox as outbox_service
from fintrust.services import payments
from fintrust.trustly import (
    Signer,
    TrustlyClient,
    build_notification,
    decode_json,
    encode_json,
    generate_key_pair,
    read_notification_reply,
)
from tests.e2e.harness import NOTIFY, PASSWORD, USERNAME, World, http
from trustly_emulator import FaultRule
from trustly_emulator._clock import trustly_timestamp

pytestmark = pytest.mark.anyio


# ---------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Books:
    """Everything a notification could change, to compare before and after."""

    accounts: tuple[tuple[str, str, int, int, int, int], ...]
    inbox: int
    transactions: int
    suspense: int
    orders: tuple[tuple[int, str, str | None], ...]
    bank_accounts: int


def books(world: World) -> Books:
    with world.uow() as work:
        db = work.connection
        accounts = tuple(
            (a.code, a.currency, a.debits_posted, a.credits_posted, a.debits_pending,
             a.credits_pending)
            for a in work.ledger.accounts()
        )  # fmt: skip
        counted = {
            name: int(db.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in (
                ("inbox", notification_inbox),
                ("transactions", ledger_transactions),
                ("suspense", suspense_items),
            )
        }
        order_rows = tuple(
            (row.id, row.state, row.trustly_order_id)
            for row in db.execute(select(orders).order_by(orders.c.id))
        )
        bank = int(db.execute(text("SELECT count(*) FROM bank_accounts")).scalar_one())
    return Books(
        accounts=accounts,
        inbox=counted["inbox"],
        transactions=counted["transactions"],
        suspense=counted["suspense"],
        orders=order_rows,
        bank_accounts=bank,
    )


def receipts(world: World, verdict: str) -> int:
    with world.uow() as work:
        query = select(func.count()).where(notification_receipts.c.verdict == verdict)
        return int(work.connection.execute(query).scalar_one())


def assert_books_sound(world: World) -> None:
    with world.uow() as work:
        assert work.ledger.verify() == []
        assert totals_balance(work.ledger.accounts())


def assert_books_equal_trustlys(world: World, currency: str = "EUR") -> None:
    """Our asset:trustly (posted, less payouts reserved) is the emulator's merchant balance,
    and the merchant's own reconciliation (Balance over the API) finds no difference."""
    with world.uow() as work:
        held = work.ledger.balance(TRUSTLY, currency)
    ours = Money(currency, held.debits_posted - held.credits_posted - held.credits_pending)
    assert ours.amount == world.emulator.store.balance(USERNAME, currency)
    report = outbox_service.reconcile(world.uow, world.services.trustly.client)
    assert report.differences == {}


async def post(world: World, body: bytes) -> httpx.Response:
    async with http(world.app) as client:
        return await client.post(
            "/trustly/notifications",
            content=body,
            headers={"Content-Type": "application/json; charset=utf-8"},
        )


def notification(
    world: World,
    method: str,
    trustly_order_id: str,
    *,
    signer: Signer | None = None,
    notification_id: str | None = None,
    amount: str = "100.00",
    currency: str = "EUR",
    uuid_: str | None = None,
) -> bytes:
    """A notification about one of the emulator's orders, signed as Trustly (the emulator)
    signs them unless another ``signer`` is given."""
    order = world.emulator.store.orders.get(trustly_order_id)
    data: dict[str, Any] = {
        "notificationid": notification_id or world.emulator.store.new_id(),
        "orderid": trustly_order_id,
        "messageid": order.message_id if order else f"unknown-{trustly_order_id}",
        "enduserid": order.end_user_id if order else "nobody",
        "timestamp": trustly_timestamp(world.emulator.clock.now()),
        "attributes": {},
    }
    if method in ("pending", "credit", "debit", "payoutconfirmation", "payoutfailed"):
        data |= {"amount": amount, "currency": currency}
    return build_notification(
        method, uuid_ or str(uuid.uuid4()), data, signer or world.emulator.keys.signer
    )


def reply_status(world: World, body: bytes, response: httpx.Response) -> str:
    """The merchant's reply, checked the way Trustly checks it."""
    sent = decode_json(body)
    reply = read_notification_reply(
        response.content,
        method=sent["method"],
        uuid=sent["params"]["uuid"],
        verifier=world.emulator.merchant_verifier(USERNAME),
    )
    return reply.status


def withdraw(world: World, customer: int, amount: str) -> int:
    return payments.request_withdrawal(
        world.uow,
        customer_id=customer,
        amount=Money.of(amount, "EUR"),
        notification_url=NOTIFY,
        shopper_statement="fintrust",
    )


def drain(world: World, client: TrustlyClient | None = None) -> dict[str, int]:
    return outbox_service.drain_outbox(world.uow, client or world.services.trustly.client)


def order_row(world: World, order_id: int) -> Any:
    with world.uow() as work:
        row = work.orders.get(order_id)
        assert row is not None
        return row


def payout_transactions(world: World, order_id: int) -> list[str]:
    """The descriptions' references of the ledger transactions booked for a payout."""
    message_id = order_row(world, order_id).message_id
    with world.uow() as work:
        query = (
            select(ledger_transactions.c.reference)
            .where(ledger_transactions.c.description == f"payout {message_id}")
            .order_by(ledger_transactions.c.id)
        )
        booked = list(work.connection.execute(query).scalars())
        reserve = work.connection.execute(
            select(ledger_transactions.c.reference).where(
                ledger_transactions.c.reference == f"{message_id}:reserve"
            )
        ).scalar()
    return ([reserve] if reserve else []) + booked


async def funded_customer(world: World, amount: str = "100.00") -> int:
    """A customer whose deposit was credited (and whose bank account we therefore know)."""
    customer = world.customer()
    await world.complete(world.deposit(customer, amount))
    assert world.balance(customer) == Decimal(amount)
    return customer


# ---------------------------------------------------------------- what must change nothing


async def test_a_forged_notification_changes_nothing(world: World) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "100.00")
    before = books(world)
    forger = Signer.from_pem(generate_key_pair()[0])
    forged = notification(world, "credit", order_id, signer=forger)
    response = await post(world, forged)
    assert response.status_code == 400
    assert "signature" in response.json()["error"]
    assert books(world) == before
    assert receipts(world, "rejected") == 1  # the raw body is kept for the audit
    # The same notification signed with Trustly's key is believed: the refusal was the key's.
    genuine = json.loads(forged)
    genuine_body = build_notification(
        "credit", genuine["params"]["uuid"], genuine["params"]["data"], world.emulator.keys.signer
    )
    answered = await post(world, genuine_body)
    assert reply_status(world, genuine_body, answered) == "OK"
    assert world.balance(customer) == Decimal("100.00")
    assert_books_sound(world)


@pytest.mark.parametrize(
    ("where", "change"),
    [
        ("data", {"amount": "1000.00"}),
        ("data", {"currency": "SEK"}),
        ("data", {"notificationid": "1111111111"}),
        ("data", {"enduserid": "someone-else"}),
        ("data", {"attributes": {"note": "added after signing"}}),
        ("top", {"method": "debit"}),
        ("params", {"uuid": "00000000-0000-0000-0000-000000000000"}),
    ],
)
async def test_a_tampered_notification_changes_nothing(
    world: World, where: str, change: dict[str, Any]
) -> None:
    customer = await funded_customer(world, "100.00")
    order_id = world.deposit(customer, "100.00")
    signed = notification(world, "credit", order_id)
    message = decode_json(signed)
    target = {
        "top": message,
        "params": message["params"],
        "data": message["params"]["data"],
    }[where]
    target.update(change)
    tampered = encode_json(message)
    assert tampered != signed
    before = books(world)
    response = await post(world, tampered)
    assert response.status_code == 400
    assert books(world) == before
    assert world.balance(customer) == Decimal("100.00")
    # Untouched, the same message is good: only the change made it bad.
    answered = await post(world, signed)
    assert reply_status(world, signed, answered) == "OK"
    assert world.balance(customer) == Decimal("200.00")
    assert_books_sound(world)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"\xff\xfe\x00garbage",
        b"[]",
        b'{"method": "credit", "version": "1.1"}',
        b'{"method": "credit", "params": {"uuid": "x", "data": {}}, "version": "1.1"}',
        b'{"method": "credit", "params": {"data": [], "uuid": "u", "signature": "s"}}',
        b'{"a":' * 5000 + b"1" + b"}" * 5000,  # nested past the parser's recursion limit
        b"[" * 30000 + b"]" * 30000,
    ],
    ids=[
        "empty",
        "not-json",
        "not-utf8",
        "array",
        "no-params",
        "unsigned",
        "data-not-object",
        "deep-object",
        "deep-array",
    ],
)
async def test_malformed_bodies_are_refused_and_change_nothing(world: World, body: bytes) -> None:
    customer = await funded_customer(world)
    before = books(world)
    response = await post(world, body)
    assert 400 <= response.status_code < 500
    assert "error" in response.json()
    assert books(world) == before
    assert receipts(world, "rejected") == 1
    assert world.balance(customer) == Decimal("100.00")
    assert_books_sound(world)


async def test_an_oversized_notification_is_refused_even_when_validly_signed(
    world: World,
) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "100.00")
    limit = world.services.settings.max_notification_bytes
    order = world.emulator.store.orders[order_id]
    data = {
        "notificationid": world.emulator.store.new_id(),
        "orderid": order_id,
        "messageid": order.message_id,
        "enduserid": order.end_user_id,
        "amount": "100.00",
        "currency": "EUR",
        "attributes": {"padding": "x" * limit},
    }
    body = build_notification("credit", str(uuid.uuid4()), data, world.emulator.keys.signer)
    assert len(body) > limit
    before = books(world)
    response = await post(world, body)
    assert response.status_code == 413
    assert books(world) == before
    assert world.balance(customer) == 0
    assert_books_sound(world)


async def test_a_notification_for_an_unknown_order_is_refused_for_redelivery(
    world: World,
) -> None:
    await funded_customer(world)
    before = books(world)
    body = notification(world, "credit", "9999999999")
    response = await post(world, body)
    assert response.status_code == 400  # not a signed OK: Trustly must send it again
    assert books(world) == before  # and in particular, no inbox row that would swallow it
    with world.uow() as work:
        assert work.inbox.get(decode_json(body)["params"]["data"]["notificationid"]) is None
    assert_books_sound(world)


async def test_a_notification_naming_another_orders_orderid_is_refused(world: World) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "100.00")
    # Signed by Trustly, with our order's MessageID but an OrderID that is not our order's.
    body = notification(world, "credit", order_id)
    data = decode_json(body)["params"]["data"] | {"orderid": "5555555555"}
    other = build_notification("credit", str(uuid.uuid4()), data, world.emulator.keys.signer)
    before = books(world)
    response = await post(world, other)
    assert response.status_code == 400
    assert books(world) == before
    assert_books_sound(world)


# ---------------------------------------------------------------- what must happen once


async def test_a_repeated_notificationid_gets_the_same_answer_and_no_second_effect(
    world: World,
) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "100.00")
    first_body = notification(world, "credit", order_id)
    first = await post(world, first_body)
    assert reply_status(world, first_body, first) == "OK"
    after_first = books(world)
    assert world.balance(customer) == Decimal("100.00")
    # Re-delivered as Trustly does (same bytes), and again with a new uuid: a repeat either way.
    again = await post(world, first_body)
    assert again.status_code == 200
    assert again.content == first.content
    data = decode_json(first_body)["params"]["data"]
    other_uuid = build_notification("credit", str(uuid.uuid4()), data, world.emulator.keys.signer)
    third = await post(world, other_uuid)
    assert reply_status(world, other_uuid, third) == "OK"
    assert books(world) == after_first
    assert world.balance(customer) == Decimal("100.00")
    assert receipts(world, "repeated") == 2
    assert_books_sound(world)


async def test_a_lost_reply_is_redelivered_and_answered_the_same_without_a_second_effect(
    world: World,
) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "100.00")
    world.emulator.faults.add(FaultRule("drop_reply", methods=["credit"], times=1))
    await world.complete(order_id)
    [credit] = [r for r in world.emulator.store.notifications_of(order_id) if r.method == "credit"]
    assert credit.state == "scheduled"  # the merchant answered, the answer was lost
    assert world.balance(customer) == Decimal("100.00")  # ... after the merchant committed
    committed = books(world)
    await world.emulator.advance(60)
    assert credit.state == "delivered"
    assert [a.verdict.split(" ")[0] for a in credit.attempts] == ["reply", "ok"]
    assert credit.reply_status == "OK"
    assert books(world) == committed
    assert world.balance(customer) == Decimal("100.00")
    assert_books_sound(world)
    assert_books_equal_trustlys(world)


async def test_a_lost_reply_to_a_payoutconfirmation_posts_once(world: World) -> None:
    customer = await funded_customer(world)
    payout = withdraw(world, customer, "40.00")
    world.emulator.faults.add(FaultRule("drop_reply", methods=["payoutconfirmation"], times=2))
    assert drain(world) == {"done": 1}
    await world.emulator.advance(3600)
    assert order_row(world, payout).state == "confirmed"
    [confirmation] = world.emulator.store.notifications_of(
        order_row(world, payout).trustly_order_id
    )
    assert len(confirmation.attempts) == 3
    assert confirmation.state == "delivered"
    assert world.balance(customer) == Decimal("60.00")
    assert len(payout_transactions(world, payout)) == 2  # reserve, post
    assert_books_sound(world)
    assert_books_equal_trustlys(world)


# ---------------------------------------------------------------- payouts


async def test_a_failed_payout_voids_the_reservation(world: World) -> None:
    customer = await funded_customer(world)
    world.emulator.payout_rules.insert(
        0, {"scenario": "payout-failed", "merchant": None, "enduserid": None}
    )
    payout = withdraw(world, customer, "30.00")
    assert world.available(customer) == Decimal("70.00")
    assert drain(world) == {"done": 1}
    assert_books_equal_trustlys(world)  # the money left Trustly's balance on acceptance
    await world.emulator.advance(3600)
    row = order_row(world, payout)
    assert row.state == "failed"
    assert row.error  # payoutfailed's reason is kept for the operator
    assert world.balance(customer) == Decimal("100.00")
    assert world.available(customer) == Decimal("100.00")
    references = payout_transactions(world, payout)
    assert len(references) == 2  # reserve, void
    with world.uow() as work:
        reservation = work.ledger.transfer(row.pending_transfer_id)
        assert reservation is not None
        settled = work.connection.execute(
            text("SELECT kind FROM ledger_transfers WHERE pending_id = :id"),
            {"id": row.pending_transfer_id},
        ).scalar_one()
    assert settled == "void"
    assert_books_sound(world)
    assert_books_equal_trustlys(world)


@pytest.mark.parametrize("duplicate", [False, True], ids=["once", "every-notification-twice"])
async def test_a_payout_returned_after_confirmation_is_booked_back_once(
    world: World, duplicate: bool
) -> None:
    customer = await funded_customer(world)
    world.emulator.payout_rules.insert(
        0, {"scenario": "payout-returned", "merchant": None, "enduserid": None}
    )
    if duplicate:
        world.emulator.faults.add(FaultRule("duplicate"))
    payout = withdraw(world, customer, "30.00")
    assert drain(world) == {"done": 1}
    await world.emulator.advance(120)
    assert order_row(world, payout).state == "confirmed"
    assert world.balance(customer) == Decimal("70.00")
    assert world.available(customer) == Decimal("70.00")
    assert_books_equal_trustlys(world)
    await world.emulator.advance(2 * 86400)
    row = order_row(world, payout)
    assert row.state == "returned"
    assert world.balance(customer) == Decimal("100.00")
    assert world.available(customer) == Decimal("100.00")
    records = world.emulator.store.notifications_of(row.trustly_order_id)
    assert [r.method for r in records] == ["payoutconfirmation", "payoutfailed", "credit"]
    delivered = [sum(a.verdict == "ok" for a in r.attempts) for r in records]
    assert delivered == ([2, 2, 2] if duplicate else [1, 1, 1])
    assert len(payout_transactions(world, payout)) == 3  # reserve, post, return
    assert_books_sound(world)
    assert_books_equal_trustlys(world)


async def test_a_cancelled_payout_voids_the_reservation(world: World) -> None:
    customer = await funded_customer(world)
    world.emulator.payout_rules.insert(
        0, {"scenario": "payout-cancelled", "merchant": None, "enduserid": None}
    )
    payout = withdraw(world, customer, "100.00")
    assert world.available(customer) == 0
    assert drain(world) == {"done": 1}
    await world.emulator.advance(3600)
    assert order_row(world, payout).state == "failed"
    assert world.balance(customer) == Decimal("100.00")
    assert world.available(customer) == Decimal("100.00")
    assert len(payout_transactions(world, payout)) == 2  # reserve, void
    assert_books_sound(world)
    assert_books_equal_trustlys(world)


class TimeoutOnce(httpx.BaseTransport):
    """The merchant's connection to Trustly, failing the first AccountPayout with a read
    timeout: ``after_delivery`` when the request reached Trustly and only the answer was lost
    (the ambiguous case), else before anything was sent."""

    def __init__(self, inner: httpx.BaseTransport, *, after_delivery: bool) -> None:
        self.inner = inner
        self.after_delivery = after_delivery
        self.sent: list[bytes] = []  # every AccountPayout body that left the merchant
        self.failed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if json.loads(body).get("method") != "AccountPayout":
            return self.inner.handle_request(request)
        self.sent.append(body)
        if not self.failed:
            self.failed = True
            if self.after_delivery:
                self.inner.handle_request(request)  # Trustly acts; the answer never comes back
            raise httpx.ReadTimeout("timed out waiting for Trustly", request=request)
        return self.inner.handle_request(request)


def flaky_client(world: World, transport: httpx.BaseTransport) -> TrustlyClient:
    return TrustlyClient(
        username=USERNAME,
        password=PASSWORD,
        signer=world.services.trustly.signer,
        verifier=world.services.trustly.verifier,
        url="http://emulator.test/api/1",
        transport=transport,
        retries=0,
    )


def make_due(world: World) -> None:
    """Bring every pending outbox row's next attempt into the past (instead of waiting)."""
    with world.services.engine.begin() as db:
        db.execute(
            update(outbox)
            .where(outbox.c.status == "pending")
            .values(next_attempt_at=outbox.c.created_at, claimed_until=None)
        )


@pytest.mark.parametrize(
    ("after_delivery", "notified_first"),
    [(True, False), (True, True), (False, False)],
    ids=["answer-lost", "answer-lost-and-notified-before-the-resend", "request-lost"],
)
async def test_an_accountpayout_that_times_out_is_resent_identically(
    world: World, after_delivery: bool, notified_first: bool
) -> None:
    customer = await funded_customer(world)
    payout = withdraw(world, customer, "25.00")
    transport = TimeoutOnce(world.transport, after_delivery=after_delivery)
    client = flaky_client(world, transport)
    assert drain(world, client) == {"unknown": 1}
    [row] = _outbox_rows(world, payout)
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.last_error
    assert order_row(world, payout).state == "requested"
    assert world.available(customer) == Decimal("75.00")  # still reserved: outcome unknown
    assert drain(world, client) == {}  # not due yet: it waits for its back-off
    if notified_first:
        # Trustly acted on the first request: its notification may overtake our re-send.
        await world.emulator.advance(120)
        assert order_row(world, payout).state == "confirmed"
    make_due(world)
    assert drain(world, client) == {"done": 1}
    [first, second] = transport.sent
    assert first == second  # the identical signed request: same UUID, same MessageID
    payouts_at_trustly = [
        o for o in world.emulator.store.orders.values() if o.method == "AccountPayout"
    ]
    assert len(payouts_at_trustly) == 1  # the re-send was replayed, not acted on again
    [row] = _outbox_rows(world, payout)
    assert (row.status, row.attempts) == ("done", 2)
    await world.emulator.advance(3600)
    done = order_row(world, payout)
    assert done.state == "confirmed"
    assert done.trustly_order_id == payouts_at_trustly[0].order_id
    assert world.balance(customer) == Decimal("75.00")
    assert world.available(customer) == Decimal("75.00")
    assert len(payout_transactions(world, payout)) == 2  # reserve, post
    assert_books_sound(world)
    assert_books_equal_trustlys(world)
    client.close()


def _outbox_rows(world: World, order_id: int) -> list[Any]:
    with world.uow() as work:
        return work.outbox.of_order(order_id)


@pytest.mark.parametrize(
    ("amount", "currency"), [("1000.00", "EUR"), ("10.00", "EUR"), ("30.00", "SEK")]
)
@pytest.mark.parametrize("confirmed", [True, False], ids=["after-confirmation", "before"])
async def test_a_payout_credit_that_does_not_match_the_payout_is_parked_in_suspense(
    world: World, amount: str, currency: str, confirmed: bool
) -> None:
    customer = await funded_customer(world)
    payout = withdraw(world, customer, "30.00")
    assert drain(world) == {"done": 1}
    if confirmed:
        await world.emulator.advance(120)
    row = order_row(world, payout)
    state = row.state
    assert state == ("confirmed" if confirmed else "sent")
    body = notification(world, "credit", row.trustly_order_id, amount=amount, currency=currency)
    response = await post(world, body)
    assert reply_status(world, body, response) == "OK"  # booked (to suspense), not refused
    assert world.balance(customer) == (Decimal("70.00") if confirmed else Decimal("100.00"))
    assert world.available(customer) == Decimal("70.00")  # nothing given, nothing released
    assert order_row(world, payout).state == state
    with world.uow() as work:
        [item] = work.suspense.open_items()
        parked = work.ledger.balance("liability:suspense", currency).posted
    assert (item.amount, item.currency) == (Money.of(amount, currency).minor, currency)
    assert parked == Money.of(amount, currency)
    assert_books_sound(world)


@pytest.mark.parametrize("method", ["credit", "debit"])
@pytest.mark.parametrize("kind", ["deposit", "payout"])
async def test_a_zero_amount_credit_or_debit_is_answered_and_books_nothing(
    world: World, method: str, kind: str
) -> None:
    """The emulator's deposit-credit-other-amount on a 0.01 deposit credits 0.00: a signed,
    well-formed notification that used to crash the handler (a zero-amount transfer)."""
    customer = await funded_customer(world)
    if kind == "deposit":
        order_id = world.deposit(customer, "100.00")
    else:
        payout = withdraw(world, customer, "30.00")
        assert drain(world) == {"done": 1}
        order_id = order_row(world, payout).trustly_order_id
    before = books(world)
    body = notification(world, method, order_id, amount="0.00")
    response = await post(world, body)
    assert reply_status(world, body, response) == "OK"
    after = books(world)
    assert after.inbox == before.inbox + 1  # answered and remembered ...
    assert (after.accounts, after.transactions, after.suspense, after.orders) == (
        before.accounts,
        before.transactions,
        before.suspense,
        before.orders,
    )  # ... and nothing else
    assert_books_sound(world)


async def test_the_smallest_deposit_credited_at_half_books_nothing_and_settles(
    world: World,
) -> None:
    customer = world.customer()
    order_id = world.deposit(customer, "0.01")
    await world.complete(order_id, "deposit-credit-other-amount")
    await world.emulator.advance(3600)
    records = world.emulator.store.notifications_of(order_id)
    assert {r.method: r.data.get("amount") for r in records}["credit"] == "0.00"
    assert all(r.state == "delivered" for r in records)
    assert world.balance(customer) == 0
    assert_books_sound(world)
    assert_books_equal_trustlys(world)


async def test_the_notification_url_takes_only_post(world: World) -> None:
    async with http(world.app) as client:
        response = await client.get("/trustly/notifications")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
