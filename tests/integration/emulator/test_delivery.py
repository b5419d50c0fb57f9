"""Notification delivery: verification of replies, re-delivery with back-off, faults, branches."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from fintrust.trustly import BalanceRequest, GetWithdrawalsRequest
from tests.integration.emulator.harness import Setup, setup
from tests.integration.emulator.test_api import credited_deposit, deposit
from trustly_emulator import FaultRule

pytestmark = pytest.mark.anyio


async def start(env: Setup, scenario: str | None = None, **attributes: str) -> str:
    result = await env.client.execute(deposit(**attributes))
    env.emulator.complete_checkout(env.emulator.store.orders[result.order_id], scenario_id=scenario)
    return result.order_id


@pytest.mark.parametrize(
    "fault", ["bad-signature", "wrong-uuid", "http-500", "timeout", "not-json"]
)
async def test_each_bad_reply_causes_redelivery_with_the_same_notificationid(fault: str) -> None:
    env = setup(retry_delays=(5, 15, 60))
    order_id = await start(env)
    env.transport.script = {"pending": [fault, fault]}
    await env.emulator.deliver_due()
    records = env.emulator.store.notifications_of(order_id)
    pending = records[0]
    assert pending.state == "scheduled"
    assert len(pending.attempts) == 1
    assert not pending.attempts[0].verdict.startswith("ok")
    assert pending.due_at == env.emulator.clock.now() + 5  # the first back-off
    await env.emulator.advance(5)
    assert len(pending.attempts) == 2
    assert pending.due_at == env.emulator.clock.now() + 15  # growing
    await env.emulator.advance(15)
    assert pending.state == "delivered"
    assert [a.verdict == "ok" for a in pending.attempts] == [False, False, True]
    bodies = {a.request for a in pending.attempts}
    assert len(bodies) == 1  # the identical signed notification every time
    assert [n.notification_id for n in env.merchant.received].count(pending.notification_id) >= 1
    assert all(r.state == "delivered" for r in records)


async def test_verdicts_say_why_a_reply_was_not_accepted() -> None:
    env = setup()
    order_id = await start(env)
    env.transport.script = {"pending": ["bad-signature", "wrong-uuid", "http-500", "timeout"]}
    await env.emulator.advance(3600)
    verdicts = [a.verdict for a in env.emulator.store.notifications_of(order_id)[0].attempts]
    assert "signature does not verify" in verdicts[0]
    assert "expected pending" in verdicts[1]
    assert "HTTP 500" in verdicts[2]
    assert "ReadTimeout" in verdicts[3]
    assert verdicts[4] == "ok"


async def test_delivery_gives_up_after_max_attempts() -> None:
    env = setup(max_attempts=3, retry_delays=(1,))
    order_id = await start(env)
    env.transport.script = {"pending": ["http-500"] * 10}
    await env.emulator.advance(10)
    first = env.emulator.store.notifications_of(order_id)[0]
    assert first.state == "failed"
    assert len(first.attempts) == 3


async def test_d1_credits_then_debits_and_the_balance_follows() -> None:
    env = setup()
    await start(env, "D1")
    await env.emulator.deliver_due()
    assert env.merchant.methods() == ["pending", "account", "credit"]
    assert (await env.client.execute(BalanceRequest()))[0].balance == Decimal("100.00")
    await env.emulator.advance(5)
    assert env.merchant.methods()[-1] == "debit"
    assert (await env.client.execute(BalanceRequest()))[0].balance == Decimal("0.00")


async def test_every_arrival_order_of_account_pending_credit_is_in_the_catalogue() -> None:
    from itertools import permutations

    from trustly_emulator import catalogue

    orders = {
        tuple(s.event for s in scenario.steps)
        for scenario in catalogue()
        if scenario.id.startswith("deposit-ok")
    }
    assert orders == set(permutations(("pending", "account", "credit")))


async def test_kyc_branches_on_the_merchants_reply() -> None:
    env = setup()
    env.merchant.statuses["kyc"] = "FINISH"
    order_id = await start(env, "deposit-kyc")
    await env.emulator.deliver_due()
    assert env.merchant.methods() == ["kyc", "cancel"]
    assert env.emulator.store.orders[order_id].state == "cancelled"
    env2 = setup()
    env2.merchant.statuses["kyc"] = "CONTINUE"
    await start(env2, "deposit-kyc")
    await env2.emulator.deliver_due()
    assert env2.merchant.methods() == ["kyc", "pending", "account", "credit"]


async def test_optional_notifications_are_not_sent_when_off_but_their_events_happen() -> None:
    env = setup(notifications=frozenset())
    order_id = await credited_deposit(env, "dep-1")
    assert env.merchant.methods() == ["pending", "credit"]
    account = [r for r in env.emulator.store.notifications_of(order_id) if r.method == "account"]
    assert account[0].state == "not-sent"
    payout = await env.client.call(
        "AccountPayout",
        {
            "NotificationURL": "http://merchant.test/trustly/notifications",
            "AccountID": env.emulator.store.orders[order_id].account_id,
            "EndUserID": "user-1",
            "MessageID": "pay-1",
            "Amount": "10.00",
            "Currency": "EUR",
            "Attributes": {"ShopperStatement": "Acme"},
        },
    )
    await env.emulator.advance(120)
    assert "payoutconfirmation" not in env.merchant.methods()
    [withdrawal] = await env.client.execute(GetWithdrawalsRequest(order_id=payout["orderid"]))
    assert withdrawal.transfer_state == "CONFIRMED"  # the merchant learns it by polling


async def test_hold_notifications_keeps_them_until_redelivered() -> None:
    env = setup()
    result = await env.client.call(
        "Deposit",
        {
            **deposit().to_data(),
            "Attributes": {**deposit().to_data()["Attributes"], "HoldNotifications": "1"},
        },
    )
    env.emulator.complete_checkout(env.emulator.store.orders[result["orderid"]])
    await env.emulator.deliver_due()
    records = env.emulator.store.notifications_of(result["orderid"])
    assert {r.state for r in records} == {"held"}
    assert env.merchant.received == []
    await env.emulator.redeliver(records[0].notification_id)
    assert env.merchant.methods() == ["pending"]


async def test_fault_duplicate_delivers_twice_with_the_same_reply() -> None:
    env = setup()
    env.emulator.faults.add(FaultRule("duplicate", methods=["credit"]))
    order_id = await start(env)
    await env.emulator.deliver_due()
    assert env.merchant.methods() == ["pending", "account", "credit", "credit"]
    credit = env.emulator.store.notifications_of(order_id)[2]
    assert [a.verdict for a in credit.attempts] == ["ok", "ok"]
    assert env.merchant.received[2].notification_id == env.merchant.received[3].notification_id


async def test_fault_drop_reply_redelivers_after_the_merchant_committed() -> None:
    env = setup(retry_delays=(30,))
    env.emulator.faults.add(FaultRule("drop_reply", methods=["credit"], times=1))
    order_id = await start(env)
    await env.emulator.deliver_due()
    credit = env.emulator.store.notifications_of(order_id)[2]
    assert credit.state == "scheduled"
    assert "dropped" in credit.attempts[0].verdict
    await env.emulator.advance(30)
    assert credit.state == "delivered"
    assert env.merchant.methods().count("credit") == 2


async def test_fault_delay_and_shuffle() -> None:
    env = setup(seed=3)
    env.emulator.faults.add(FaultRule("delay", seconds=600))
    order_id = await start(env)
    await env.emulator.deliver_due()
    assert env.merchant.received == []
    await env.emulator.advance(600)
    assert len(env.merchant.received) == 3
    shuffled = setup(seed=1)
    shuffled.emulator.faults.add(FaultRule("shuffle"))
    orders = set()
    for index in range(6):
        result = await shuffled.client.execute(deposit(f"dep-{index}"))
        shuffled.emulator.complete_checkout(shuffled.emulator.store.orders[result.order_id])
        await shuffled.emulator.deliver_due()
        orders.add(tuple(n.method for n in shuffled.merchant.received[-3:]))
    assert len(orders) > 1  # not always pending, account, credit
    assert order_id


async def test_fault_reset_on_an_in_process_transport_is_a_failed_attempt() -> None:
    env = setup(retry_delays=(5,))
    env.emulator.faults.add(FaultRule("reset", times=1))
    order_id = await start(env)
    await env.emulator.deliver_due()
    first = env.emulator.store.notifications_of(order_id)[0]
    assert "reset" in first.attempts[0].verdict
    await env.emulator.advance(5)
    assert first.state == "delivered"


async def test_faults_can_target_one_merchant_or_one_order() -> None:
    env = setup()
    env.emulator.faults.add(FaultRule("duplicate", merchant="someone-else"))
    order_id = await start(env)
    env.emulator.faults.add(FaultRule("duplicate", order_id="0000000000"))
    await env.emulator.deliver_due()
    assert len(env.merchant.received) == 3
    assert order_id


async def test_control_plane_runs_scenarios_and_time_over_http() -> None:
    env = setup()
    result = await env.client.execute(deposit())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=env.app), base_url="http://emulator.test"
    ) as http:
        response = await http.post(
            f"/_emulator/orders/{result.order_id}/complete", json={"scenario": "D1"}
        )
        assert response.status_code == 200
        assert [n["method"] for n in response.json()["notifications"]] == [
            "pending",
            "account",
            "credit",
            "debit",
        ]
        assert env.merchant.methods() == ["pending", "account", "credit"]
        advanced = await http.post("/_emulator/clock/advance", json={"seconds": 5})
        assert advanced.json()["attempts"] == 1
        assert env.merchant.methods()[-1] == "debit"
        again = await http.post(f"/_emulator/orders/{result.order_id}/complete", json={})
        assert again.status_code == 409
        unknown = await http.post(
            f"/_emulator/orders/{result.order_id}/complete", json={"scenario": "nope"}
        )
        assert unknown.status_code == 409
        fault = await http.post(
            "/_emulator/faults", json={"kind": "duplicate", "methods": ["pending"]}
        )
        assert fault.json()["kind"] == "duplicate"
        custom = await http.post(
            "/_emulator/notifications",
            json={"method": "credit", "order_id": result.order_id, "data": {"amount": "1.00"}},
        )
        assert custom.json()["attempts"][0]["verdict"] == "ok"
        assert env.merchant.received[-1].data.amount == Decimal("1.00")  # type: ignore[union-attr]
        snapshot = (await http.get("/_emulator/snapshot")).json()
        assert "password" not in str(snapshot).lower()
        assert (await http.post("/_emulator/reset")).status_code == 200
        assert env.emulator.store.orders == {}


async def test_an_untouched_checkout_is_cancelled_after_thirty_minutes() -> None:
    env = setup()
    untouched = await env.client.execute(deposit("dep-untouched"))
    completed = await env.client.execute(deposit("dep-completed"))
    env.emulator.complete_checkout(env.emulator.store.orders[completed.order_id])
    await env.emulator.advance(1799)
    assert env.emulator.store.orders[untouched.order_id].state == "created"
    await env.emulator.advance(1)
    assert env.emulator.store.orders[untouched.order_id].state == "cancelled"
    cancels = [n for n in env.merchant.received if n.method == "cancel"]
    assert [n.order_id for n in cancels] == [untouched.order_id]
    assert env.emulator.store.orders[completed.order_id].state == "credited"


async def test_a_failed_hand_sent_notification_without_an_order_is_retried_alone() -> None:
    env = setup(retry_delays=(5,))
    env.transport.script = {"credit": ["http-500"]}
    data = {"amount": "1.00", "currency": "EUR", "orderid": "1", "messageid": "m"}
    record = env.emulator.custom_notification(
        "credit", data, url="http://merchant.test/trustly/notifications", merchant="acme"
    )
    await env.emulator.dispatcher.attempt(record)
    assert record.state == "scheduled"
    order_id = await start(env)
    await env.emulator.advance(5)
    assert record.state == "delivered"
    assert {r.state for r in env.emulator.store.notifications_of(order_id)} == {"delivered"}
