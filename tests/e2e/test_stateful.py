"""Any sequence of customers, deposits (every Deposit scenario in the emulator's catalogue,
with duplicated, shuffled and lost-reply deliveries), withdrawals (valid and too big, every
payout scenario), outbox drains and clock moves keeps the merchant's books right:

* the ledger verifies and balances after every step;
* no customer is ever paid out more than was credited to them;
* whenever nothing is left to deliver or send, our ``asset:trustly`` equals the emulator's own
  record of the merchant's balance, and the merchant's reconciliation finds no difference.

SQLite only (the same code runs on PostgreSQL in the other suites), a fresh World per example,
the emulator on its manual clock with a fixed seed: no sleeps, no wall-clock dependence.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import select, update

from fintrust.adapters.db.engine import make_engine
from fintrust.adapters.db.migrate import upgrade
from fintrust.adapters.db.repositories import OutboxRow
from fintrust.adapters.db.schema import ledger_transfers, outbox
from fintrust.domain.ledger import TRUSTLY, totals_balance, wallet
from fintrust.domain.money import Money
from fintrust.services import outbox as outbox_service
from fintrust.services import payments
from fintrust.trustly import TrustlyClient
from tests.e2e.harness import NOTIFY, PASSWORD, USERNAME, World, build_world
from trustly_emulator import FaultRule
from trustly_emulator._scenarios import for_kind

CURRENCY = "EUR"
DEPOSIT_SCENARIOS = [s.id for s in for_kind("Deposit")]
PAYOUT_SCENARIOS = [s.id for s in for_kind("AccountPayout")]
# Trustly only ever debits a deposit after crediting it; shuffling D1 could put the debit
# first, which the emulator books as 0.00 while notifying the full amount.
NOT_SHUFFLED = {"D1"}
AMOUNTS = ["0.01", "0.02", "1.00", "10.00", "25.50", "99.99", "250.00"]  # 0.01: half is 0.00
STEPS = [1, 5, 30, 61, 600, 1801, 3601, 86401]
FAULTS = st.sampled_from([None, None, "duplicate", "shuffle", "drop_reply"])


def eur(amount: Decimal | str) -> Money:
    return Money.of(amount, CURRENCY)


class AnswersLost(httpx.BaseTransport):
    """Trustly gets every call and acts on it, but its answer never reaches us."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.inner.handle_request(request)
        raise httpx.ReadTimeout("no answer from Trustly", request=request)


class Merchant(RuleBasedStateMachine):
    customers = Bundle("customers")

    def __init__(self) -> None:
        super().__init__()
        self._dir = Path(tempfile.mkdtemp(prefix="fintrust-stateful-"))
        self.engine = make_engine(f"sqlite:///{self._dir / 'fintrust.sqlite3'}")
        upgrade(self.engine)
        self.world: World = build_world(self.engine, self._dir)
        self.world.emulator.store._ids.seed(20260101)  # ids and shuffles repeat per example
        self.loop = asyncio.new_event_loop()
        self.end_users: dict[int, str] = {}
        trustly = self.world.services.trustly
        self.lossy_client = TrustlyClient(
            username=USERNAME,
            password=PASSWORD,
            signer=trustly.signer,
            verifier=trustly.verifier,
            url=self.world.services.settings.trustly_api_url,
            transport=AnswersLost(self.world.transport),
            retries=0,
        )

    # ------------------------------------------------------------ helpers

    def run(self, coroutine: Coroutine[Any, Any, object]) -> None:
        self.loop.run_until_complete(coroutine)

    def available(self, customer: int) -> Money:
        with self.world.uow() as work:
            return work.ledger.balance(wallet(customer), CURRENCY).available

    def send_at_once(self, outbox_id: int) -> str:
        """What the web layer does with a Deposit: send its outbox row at once."""
        with self.world.uow() as work:
            row = work.connection.execute(select(outbox).where(outbox.c.id == outbox_id)).one()
        call = OutboxRow(row.id, row.method, row.uuid, row.order_id, json.loads(row.data), 1)
        return outbox_service.send_call(self.world.uow, self.world.services.trustly.client, call)

    def open_checkouts(self) -> list[str]:
        return sorted(
            order.order_id
            for order in self.world.emulator.store.orders.values()
            if order.method == "Deposit" and order.state == "created"
        )

    def make_due(self) -> None:
        """Calls waiting to be re-sent are due now (instead of after their real back-off)."""
        with self.engine.begin() as db:
            db.execute(
                update(outbox)
                .where(outbox.c.status == "pending")
                .values(next_attempt_at=outbox.c.created_at, claimed_until=None)
            )

    def taken_back(self, customer: int) -> bool:
        """Whether a debit took back a deposit credited to ``customer`` (a posted transfer out
        of the wallet: payouts leave it as pending transfers, posted later)."""
        with self.world.uow() as work:
            wallet_id = work.ledger.account(wallet(customer), CURRENCY)
            query = select(ledger_transfers.c.id).where(
                ledger_transfers.c.debit_account_id == wallet_id,
                ledger_transfers.c.kind == "posted",
            )
            return work.connection.execute(query.limit(1)).first() is not None

    def quiescent(self) -> bool:
        """Nothing sent but not yet answered: both sides should then agree. (Events still to
        come have moved neither side; an event that happened is booked at Trustly at once, and
        by us when its notification is accepted.)"""
        undelivered = any(
            r.fired and r.state == "scheduled"
            for r in self.world.emulator.store.notifications.values()
        )
        with self.world.uow() as work:
            pending = work.outbox.counts().get("pending", 0)
        return not undelivered and pending == 0

    def settled(self) -> bool:
        scheduled = any(
            r.state == "scheduled" for r in self.world.emulator.store.notifications.values()
        )
        return not scheduled and self.quiescent()

    # ------------------------------------------------------------ rules

    @initialize(target=customers)
    def first_customer(self) -> int:
        return self.register()

    @precondition(lambda self: len(self.end_users) < 3)
    @rule(target=customers)
    def another_customer(self) -> int:
        return self.register()

    def register(self) -> int:
        end_user_id = f"cust-{len(self.end_users) + 1}"
        customer = self.world.customer(end_user_id, CURRENCY)
        self.end_users[customer] = end_user_id
        return customer

    def start(self, customer: int, amount: str) -> str:
        started = payments.start_deposit(
            self.world.uow,
            customer_id=customer,
            amount=eur(amount),
            notification_url=NOTIFY,
            success_url="http://merchant.test/ok",
            fail_url="http://merchant.test/fail",
            shopper_statement="fintrust",
        )
        assert self.send_at_once(started.outbox_id) == "done"
        with self.world.uow() as work:
            order = work.orders.get(started.order_id)
            assert order is not None
            return str(order.trustly_order_id)

    def complete(self, order_id: str, scenario: str, fault: str | None) -> None:
        if fault == "shuffle" and scenario in NOT_SHUFFLED:
            fault = "duplicate"
        if fault is not None:
            # Every delivery of this order duplicated or shuffled; two replies lost (losing
            # every one would only test that the emulator gives up).
            times = 2 if fault == "drop_reply" else None
            rule = FaultRule(fault, order_id=order_id, times=times)  # type: ignore[arg-type]
            self.world.emulator.faults.add(rule)
        self.run(self.world.complete(order_id, scenario))

    @rule(
        customer=customers,
        amount=st.sampled_from(AMOUNTS),
        scenario=st.sampled_from(DEPOSIT_SCENARIOS),
        fault=FAULTS,
    )
    def deposit(self, customer: int, amount: str, scenario: str, fault: str | None) -> None:
        """The customer goes through the checkout at once (the usual case)."""
        self.complete(self.start(customer, amount), scenario, fault)

    @rule(customer=customers, amount=st.sampled_from(AMOUNTS))
    def start_deposit(self, customer: int, amount: str) -> None:
        """... or leaves it open: finished later, or abandoned (cancelled after 30 min)."""
        self.start(customer, amount)

    @precondition(lambda self: bool(self.open_checkouts()))
    @rule(
        pick=st.integers(min_value=0, max_value=99),
        scenario=st.sampled_from(DEPOSIT_SCENARIOS),
        fault=FAULTS,
    )
    def complete_deposit(self, pick: int, scenario: str, fault: str | None) -> None:
        checkouts = self.open_checkouts()
        self.complete(checkouts[pick % len(checkouts)], scenario, fault)

    def funded(self) -> list[int]:
        return [c for c in sorted(self.end_users) if self.available(c).is_positive]

    @precondition(lambda self: bool(self.funded()))
    @rule(
        pick=st.integers(min_value=0, max_value=99),
        share=st.sampled_from([Decimal("0.1"), Decimal("0.5"), Decimal(1)]),
    )
    def withdraw(self, pick: int, share: Decimal) -> None:
        funded = self.funded()
        customer = funded[pick % len(funded)]
        available = self.available(customer)
        amount = max(eur((available.amount * share).quantize(Decimal("0.01"))), eur("0.01"))
        self.try_withdrawal(customer, amount)

    @rule(customer=customers, extra=st.sampled_from(["0.01", "5.00", "1000.00"]))
    def withdraw_too_much(self, customer: int, extra: str) -> None:
        self.try_withdrawal(customer, self.available(customer) + eur(extra))

    def try_withdrawal(self, customer: int, amount: Money) -> None:
        available = self.available(customer)
        with self.world.uow() as work:
            has_account = any(a.verified for a in work.bank_accounts.of_customer(customer))
            frozen = work.ledger.balance(wallet(customer), CURRENCY).posted.minor < 0
        allowed = amount.is_positive and has_account and not frozen and amount <= available
        try:
            payments.request_withdrawal(
                self.world.uow,
                customer_id=customer,
                amount=amount,
                notification_url=NOTIFY,
                shopper_statement="fintrust",
            )
        except payments.WithdrawalRefusedError:
            assert not allowed, f"refused a withdrawal of {amount} from {available} available"
            assert self.available(customer) == available
        else:
            assert allowed, f"allowed a withdrawal of {amount} from {available} available"
            assert self.available(customer) == available - amount

    @rule(
        scenario=st.sampled_from(PAYOUT_SCENARIOS),
        shuffle=st.booleans(),
        answers_lost=st.booleans(),
    )
    def drain_outbox(self, scenario: str, shuffle: bool, answers_lost: bool) -> None:
        """The worker sends what is due. Trustly runs ``scenario`` for the payouts (their
        events shuffled, perhaps); or Trustly acts but its answers are lost on the way back
        (a timeout), and the calls wait to be re-sent, identically."""
        emulator = self.world.emulator
        emulator.payout_rules[:] = [{"scenario": scenario, "merchant": None, "enduserid": None}]
        self.make_due()
        shuffled = emulator.faults.add(FaultRule("shuffle")) if shuffle else None
        client = self.lossy_client if answers_lost else self.world.services.trustly.client
        try:
            counts = outbox_service.drain_outbox(self.world.uow, client)
        finally:
            if shuffled is not None:
                emulator.faults.rules.remove(shuffled)
        assert set(counts) <= ({"unknown"} if answers_lost else {"done"}), counts

    @rule(
        kind=st.sampled_from(["duplicate", "drop_reply"]),
        times=st.integers(min_value=1, max_value=3),
    )
    def misbehave_next_deliveries(self, kind: str, times: int) -> None:
        self.world.emulator.faults.add(FaultRule(kind, times=times))  # type: ignore[arg-type]

    @rule(seconds=st.sampled_from(STEPS))
    def advance(self, seconds: int) -> None:
        self.run(self.world.emulator.advance(seconds))

    @rule()
    def settle(self) -> None:
        self.settle_everything()
        self.check_books_equal_trustlys()

    # ------------------------------------------------------------ invariants

    @invariant()
    def ledger_verifies_and_balances(self) -> None:
        with self.world.uow() as work:
            assert work.ledger.verify() == []
            assert totals_balance(work.ledger.accounts())

    @invariant()
    def nobody_is_paid_more_than_was_credited(self) -> None:
        """Trustly's own ledger: what left for each customer never exceeds what came from them;
        and a wallet only goes below zero when a deposit of theirs was taken back."""
        store = self.world.emulator.store
        credited: dict[str, Decimal] = defaultdict(Decimal)
        paid: dict[str, Decimal] = defaultdict(Decimal)
        for entry in store.ledger:
            kind = store.orders[entry.order_id].method
            if kind == "Deposit" and entry.amount > 0:
                credited[entry.end_user_id] += entry.amount
            elif kind == "AccountPayout":
                paid[entry.end_user_id] -= entry.amount  # out negative, returned positive
        for customer, end_user_id in self.end_users.items():
            assert paid[end_user_id] <= credited[end_user_id], end_user_id
            with self.world.uow() as work:
                balance = work.ledger.balance(wallet(customer), CURRENCY)
            if not self.taken_back(customer):
                assert balance.available.minor >= 0, (end_user_id, balance)

    @invariant()
    def books_equal_trustlys_when_nothing_is_in_flight(self) -> None:
        if self.quiescent():
            self.check_books_equal_trustlys()

    def check_books_equal_trustlys(self) -> None:
        with self.world.uow() as work:
            held = work.ledger.balance(TRUSTLY, CURRENCY)
        ours = Money(CURRENCY, held.debits_posted - held.credits_posted - held.credits_pending)
        theirs = eur(self.world.emulator.store.balance(USERNAME, CURRENCY))
        assert ours == theirs, f"our asset:trustly {ours} != Trustly's balance {theirs}"
        report = outbox_service.reconcile(self.world.uow, self.world.services.trustly.client)
        assert report.differences == {}

    def settle_everything(self) -> None:
        """Send what is waiting and let every notification fall due (a payout returns after a
        day; undelivered ones are retried for hours)."""
        for _ in range(5):
            self.make_due()
            outbox_service.drain_outbox(self.world.uow, self.world.services.trustly.client)
            self.run(self.world.emulator.advance(3 * 86400))
            if self.settled():
                return
        raise AssertionError("still not settled after 15 emulated days")

    def teardown(self) -> None:
        try:
            self.settle_everything()
            self.check_books_equal_trustlys()
            failed = [
                r for r in self.world.emulator.store.notifications.values() if r.state == "failed"
            ]
            assert failed == [], "the emulator gave up delivering notifications"
        finally:
            self.lossy_client.close()
            self.world.close()
            self.loop.close()
            self.engine.dispose()
            shutil.rmtree(self._dir, ignore_errors=True)


Merchant.TestCase.settings = settings(
    max_examples=25,
    stateful_step_count=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestMerchantBooks = Merchant.TestCase
