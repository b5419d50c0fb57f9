"""Delivery over real loopback sockets: what an in-process transport cannot show."""

from __future__ import annotations

import pytest

from fintrust.trustly import Verifier
from tests.integration.emulator.harness import MERCHANT, PASSWORD, new_merchant
from tests.servers import Served
from trustly_emulator import FaultRule, MerchantConfig
from trustly_emulator.testing import in_process

pytestmark = pytest.mark.anyio


async def test_a_connection_reset_mid_request_is_redelivered_and_never_processed() -> None:
    merchant = new_merchant()
    with Served(lambda url: merchant.app()) as served:
        emulator, _ = in_process(
            MerchantConfig(MERCHANT, PASSWORD, merchant.public_pem), retry_delays=(5,)
        )
        merchant.emulator_verifier = Verifier.from_pem(emulator.keys.public_pem)
        emulator.faults.add(FaultRule("reset", methods=["pending"], times=1))
        order = emulator.adopt_order(
            merchant=MERCHANT,
            method="Deposit",
            order_id="1234567890",
            message_id="dep-net",
            end_user_id="user-net",
            notification_url=f"{served.url}/trustly/notifications",
            amount=None,
            currency="EUR",
        )
        emulator.complete_checkout(order)
        await emulator.deliver_due()
        pending = emulator.store.notifications_of(order.order_id)[0]
        assert pending.attempts[0].verdict == "connection reset mid-request (fault)"
        assert "pending" not in merchant.methods()  # half a request is no request
        assert merchant.methods() == ["credit"]  # account is off, as in live
        await emulator.advance(5)
        assert pending.state == "delivered"
        assert merchant.methods() == ["credit", "pending"]
        await emulator.aclose()
