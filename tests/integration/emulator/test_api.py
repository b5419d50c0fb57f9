"""Every API method against the emulator in-process, through the SDK's own clients."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import httpx
import pytest

from fintrust.trustly import (
    AccountLedgerRequest,
    AccountPayoutAttributes,
    AccountPayoutRequest,
    ApproveWithdrawalRequest,
    AsyncTrustlyClient,
    BalanceRequest,
    DenyWithdrawalRequest,
    DepositAttributes,
    DepositRequest,
    GetWithdrawalsRequest,
    RefundRequest,
    RegisterAccountRequest,
    RejectedError,
    SelectAccountAttributes,
    SelectAccountRequest,
    Signer,
    TrustlyAPIError,
    Verifier,
    ViewAutomaticSettlementDetailsCSVRequest,
    WithdrawAttributes,
    WithdrawRequest,
    generate_key_pair,
)
from tests.integration.emulator.harness import (
    MERCHANT,
    NOTIFY_URL,
    PASSWORD,
    Setup,
    setup,
    sync_client,
)
from trustly_emulator import MerchantConfig

pytestmark = pytest.mark.anyio


@pytest.fixture
def env() -> Setup:
    return setup()


def deposit(
    message_id: str = "dep-1", amount: str | None = "100.00", **attributes: Any
) -> DepositRequest:
    return DepositRequest(
        notification_url=NOTIFY_URL,
        end_user_id=attributes.pop("end_user_id", "user-1"),
        message_id=message_id,
        attributes=DepositAttributes(
            currency="EUR",
            amount=Decimal(amount) if amount else None,
            firstname="Åsa",
            lastname="Öberg",
            country="SE",
            locale="sv_SE",
            success_url="https://shop.example/ok",
            fail_url="https://shop.example/fail",
            **attributes,
        ),
    )


async def credited_deposit(env: Setup, message_id: str, amount: str = "100.00") -> str:
    result = await env.client.execute(deposit(message_id, amount))
    env.emulator.complete_checkout(env.emulator.store.orders[result.order_id])
    await env.emulator.deliver_due()
    return result.order_id


async def test_deposit_returns_an_order_and_a_checkout_url(env: Setup) -> None:
    result = await env.client.execute(deposit())
    order = env.emulator.store.orders[result.order_id]
    assert result.order_id.isdigit()
    assert len(result.order_id) == 10
    assert result.url.startswith("http://emulator.test/checkout?OrderID=" + result.order_id)
    assert order.session_id in result.url
    assert (order.amount, order.currency, order.message_id) == (Decimal("100.00"), "EUR", "dep-1")
    assert order.attributes["Firstname"] == "Åsa"


async def test_completed_deposit_moves_the_merchant_balance_only_on_credit(env: Setup) -> None:
    result = await env.client.execute(deposit())
    assert await env.client.execute(BalanceRequest()) == []
    env.emulator.complete_checkout(env.emulator.store.orders[result.order_id])
    await env.emulator.deliver_due()
    assert env.merchant.methods() == ["pending", "account", "credit"]
    [balance] = await env.client.execute(BalanceRequest())
    assert (balance.currency, balance.balance) == ("EUR", Decimal("100.00"))


async def test_select_account_and_register_account_give_stable_account_ids(env: Setup) -> None:
    selected = await env.client.execute(
        SelectAccountRequest(
            notification_url=NOTIFY_URL,
            end_user_id="user-2",
            message_id="sel-1",
            attributes=SelectAccountAttributes(
                country="FI", locale="fi_FI", firstname="A", lastname="B"
            ),
        )
    )
    env.emulator.complete_checkout(env.emulator.store.orders[selected.order_id])
    await env.emulator.deliver_due()
    [account] = env.merchant.received
    assert account.method == "account"
    assert account.data.account_id in env.emulator.store.accounts  # type: ignore[union-attr]
    request = RegisterAccountRequest(
        end_user_id="user-3",
        clearing_house="SWEDEN",
        bank_number="6112",
        account_number="69706212",
        firstname="Steve",
        lastname="Smith",
    )
    first = await env.client.execute(request)
    again = await env.client.execute(request)
    assert first.account_id == again.account_id
    assert (first.clearing_house, first.descriptor) == ("SWEDEN", "**6212")
    other = await env.client.execute(request.model_copy(update={"account_number": "69706213"}))
    assert other.account_id != first.account_id


async def test_account_payout_moves_balance_and_reports_through_get_withdrawals(env: Setup) -> None:
    order_id = await credited_deposit(env, "dep-1")
    account_id = env.emulator.store.orders[order_id].account_id
    payout = await env.client.execute(
        AccountPayoutRequest(
            notification_url=NOTIFY_URL,
            account_id=account_id,
            end_user_id="user-1",
            message_id="pay-1",
            amount=Decimal("40.00"),
            currency="EUR",
            attributes=AccountPayoutAttributes(shopper_statement="Acme"),
        )
    )
    assert payout.result is True
    [withdrawal] = await env.client.execute(GetWithdrawalsRequest(order_id=payout.order_id))
    assert (withdrawal.transfer_state, withdrawal.amount) == ("EXECUTING", Decimal("40.00"))
    assert (await env.client.execute(BalanceRequest()))[0].balance == Decimal("60.00")
    await env.emulator.advance(60)
    assert env.merchant.methods()[-1] == "payoutconfirmation"
    [withdrawal] = await env.client.execute(GetWithdrawalsRequest(order_id=payout.order_id))
    assert withdrawal.transfer_state == "CONFIRMED"


async def test_a_payout_larger_than_the_balance_fails_like_trustly(env: Setup) -> None:
    order_id = await credited_deposit(env, "dep-1", "10.00")
    account_id = env.emulator.store.orders[order_id].account_id
    payout = await env.client.execute(
        AccountPayoutRequest(
            notification_url=NOTIFY_URL,
            account_id=account_id,
            end_user_id="user-1",
            message_id="pay-big",
            amount=Decimal("500.00"),
            currency="EUR",
            attributes=AccountPayoutAttributes(shopper_statement="Acme"),
        )
    )
    assert payout.result is True  # accepted; the failure comes by notification
    await env.emulator.advance(60)
    assert env.merchant.methods()[-2:] == ["payoutfailed", "credit"]
    failed = env.merchant.received[-2].data
    assert failed.error_code == "insufficient_funds"  # type: ignore[union-attr]
    assert (await env.client.execute(BalanceRequest()))[0].balance == Decimal("10.00")


async def test_refund_is_limited_to_the_settled_deposit(env: Setup) -> None:
    order_id = await credited_deposit(env, "dep-1", "50.00")
    refund = RefundRequest(order_id=order_id, amount=Decimal("30.00"), currency="EUR")
    assert (await env.client.execute(refund)).result is True
    with pytest.raises(TrustlyAPIError) as raised:
        await env.client.execute(refund)  # 30 + 30 > 50
    assert raised.value.code == 615
    pending = await env.client.execute(deposit("dep-2", "20.00"))
    with pytest.raises(TrustlyAPIError) as raised:  # not settled yet: nothing to refund
        await env.client.execute(
            RefundRequest(order_id=pending.order_id, amount=Decimal("1.00"), currency="EUR")
        )
    assert raised.value.code == 615
    assert (await env.client.execute(BalanceRequest()))[0].balance == Decimal("20.00")
    await env.emulator.advance(60)
    assert env.merchant.methods()[-1] == "payoutconfirmation"  # to the deposit's NotificationURL


async def test_withdraw_approve_and_deny(env: Setup) -> None:
    await credited_deposit(env, "dep-1", "100.00")

    async def withdraw(message_id: str) -> str:
        result = await env.client.execute(
            WithdrawRequest(
                notification_url=NOTIFY_URL,
                end_user_id="user-1",
                message_id=message_id,
                currency="EUR",
                attributes=WithdrawAttributes(
                    country="SE", locale="sv_SE", suggested_amount=Decimal("25.00")
                ),
            )
        )
        env.emulator.complete_checkout(env.emulator.store.orders[result.order_id])
        await env.emulator.deliver_due()
        return result.order_id

    approved = await withdraw("wd-1")
    assert env.merchant.methods()[-2:] == ["debit", "account"]
    assert (await env.client.execute(ApproveWithdrawalRequest(order_id=approved))).result is True
    with pytest.raises(RejectedError):  # already approved
        await env.client.execute(ApproveWithdrawalRequest(order_id=approved))
    await env.emulator.advance(60)
    assert env.merchant.methods()[-1] == "payoutconfirmation"
    assert (await env.client.execute(BalanceRequest()))[0].balance == Decimal("75.00")
    denied = await withdraw("wd-2")
    assert (await env.client.execute(DenyWithdrawalRequest(order_id=denied))).result is True
    await env.emulator.deliver_due()
    assert env.merchant.methods()[-2:] == ["cancel", "credit"]
    assert (await env.client.execute(BalanceRequest()))[0].balance == Decimal("75.00")


async def test_ledger_and_settlement_report_list_the_movements(env: Setup) -> None:
    await credited_deposit(env, "dep-1", "12.50")
    today = dt.datetime.fromtimestamp(env.emulator.clock.now(), dt.UTC).date()
    entries = await env.client.execute(
        AccountLedgerRequest(from_date=today, to_date=today + dt.timedelta(days=1), currency="EUR")
    )
    assert [(e.amount, e.message_id, e.transaction_type) for e in entries] == [
        (Decimal("12.50"), "dep-1", "Deposit")
    ]
    report = await env.client.execute(
        ViewAutomaticSettlementDetailsCSVRequest(
            settlement_date=today + dt.timedelta(days=1), currency="EUR"
        )
    )
    [row] = report.rows()
    assert (row["amount"], row["messageid"], row["ordertype"]) == ("12.50", "dep-1", "Deposit")


async def test_legacy_direct_debit_is_rejected_with_a_reason(env: Setup) -> None:
    with pytest.raises(RejectedError) as raised:
        await env.client.call("Charge", {"MessageID": "c-1"})
    assert raised.value.reason == "ERROR_DIRECT_DEBIT_NOT_ALLOWED"


async def test_an_identical_resend_gets_the_first_answer_and_no_second_order(env: Setup) -> None:
    call = env.client.prepare(deposit())
    first = await env.client.send(call)
    again = await env.client.send(env.client.prepare(deposit(), uuid=call.uuid))
    assert first == again
    assert len(env.emulator.store.orders) == 1
    with pytest.raises(TrustlyAPIError) as raised:  # the same UUID with other content
        await env.client.send(env.client.prepare(deposit("dep-2"), uuid=call.uuid))
    assert raised.value.code == 688


VALID = deposit().to_data()


def _with(path: str, value: Any) -> dict[str, Any]:
    data = {**VALID, "Attributes": dict(VALID["Attributes"])}
    target = data["Attributes"] if path.startswith("Attributes.") else data
    key = path.removeprefix("Attributes.")
    if value is _REMOVE:
        target.pop(key)
    else:
        target[key] = value
    return data


_REMOVE = object()


@pytest.mark.parametrize(
    ("path", "value", "code", "name"),
    [
        ("Attributes.Amount", "10.5", 615, "ERROR_INVALID_AMOUNT"),
        ("Attributes.Amount", "0.00", 615, "ERROR_INVALID_AMOUNT"),
        ("Attributes.Amount", "-5.00", 615, "ERROR_INVALID_AMOUNT"),
        ("Attributes.Currency", "XXX", 622, "ERROR_INVALID_CURRENCY_CODE"),
        ("Attributes.Firstname", _REMOVE, 623, "ERROR_INVALID_PARAMETERS"),
        ("Attributes.Locale", "swedish", 645, "ERROR_INVALID_LOCALE"),
        ("Attributes.Country", "XX", 737, "ERROR_INVALID_COUNTRY"),
        ("Attributes.Email", "not-an-email", 642, "ERROR_INVALID_EMAIL"),
        ("Attributes.IP", "300.1.1.1", 698, "ERROR_INVALID_IP"),
        ("Attributes.SuccessURL", "shop/ok", 700, "ERROR_MALFORMED_SUCCESSURL"),
        ("Attributes.FailURL", "ftp://x", 701, "ERROR_MALFORMED_FAILURL"),
        ("Attributes.TemplateURL", "nope", 702, "ERROR_MALFORMED_TEMPLATEURL"),
        ("Attributes.URLTarget", "_blank", 703, "ERROR_MALFORMED_URLTARGET"),
        ("MessageID", "has spaces in it", 704, "ERROR_MALFORMED_MESSAGEID"),
        ("MessageID", _REMOVE, 697, "ERROR_MESSAGEID_IS_NULL"),
        (
            "NotificationURL",
            "https://shop.example/notify?secret=1",
            705,
            "ERROR_MALFORMED_NOTIFICATIONURL",
        ),
        ("EndUserID", None, 696, "ERROR_ENDUSERID_IS_NULL"),
        ("EndUserID", "   ", 706, "ERROR_MALFORMED_ENDUSERID"),
    ],
)
async def test_parameter_errors_carry_trustlys_codes(
    env: Setup, path: str, value: Any, code: int, name: str
) -> None:
    with pytest.raises(TrustlyAPIError) as raised:
        await env.client.call("Deposit", _with(path, value))
    assert (raised.value.code, raised.value.message) == (code, name)
    assert env.emulator.store.orders == {}
    assert env.emulator.api_errors[-1].code == code


async def test_duplicate_message_id_is_refused(env: Setup) -> None:
    await env.client.execute(deposit())
    with pytest.raises(TrustlyAPIError) as raised:
        await env.client.execute(deposit())
    assert raised.value.code == 637
    assert raised.value.is_duplicate_error


async def test_http_notification_url_is_refused_only_when_tls_is_required() -> None:
    strict = setup(require_tls=True)
    with pytest.raises(TrustlyAPIError) as raised:
        await strict.client.execute(deposit())
    assert raised.value.code == 734
    relaxed = setup()
    assert (await relaxed.client.execute(deposit())).order_id


async def test_credentials_keys_and_signatures_are_checked_in_trustlys_order(env: Setup) -> None:
    def client(
        username: str = MERCHANT, password: str = PASSWORD, signer: Signer | None = None
    ) -> AsyncTrustlyClient:
        return AsyncTrustlyClient(
            username=username,
            password=password,
            signer=signer or env.merchant.signer,
            verifier=Verifier.from_pem(env.emulator.keys.public_pem),
            url="http://emulator.test/api/1",
            transport=httpx.ASGITransport(app=env.app),
            retries=0,
        )

    cases = [
        (client(password="wrong"), 616),
        (client(username="nobody"), 616),
        (client(signer=Signer.from_pem(generate_key_pair()[0])), 636),
    ]
    for caller, code in cases:
        with pytest.raises(TrustlyAPIError) as raised:
            await caller.execute(BalanceRequest())
        assert raised.value.code == code
    env.emulator.add_merchant(MerchantConfig("nokey", "pw"))
    with pytest.raises(TrustlyAPIError) as raised:
        await client("nokey", "pw").execute(BalanceRequest())
    assert raised.value.code == 639


@pytest.mark.parametrize(
    ("method", "data", "code", "name"),
    [
        ("NoSuchMethod", {}, 620, "ERROR_INVALID_FUNCTION"),
        ("ApproveWithdrawal", {"OrderID": "1234567890"}, 620, "ERROR_NOT_FOUND"),
        (
            "Refund",
            {"OrderID": "1234567890", "Amount": "1.00", "Currency": "EUR"},
            655,
            "ERROR_INVALID_ORDER_ID",
        ),
        ("GetWithdrawals", {"OrderID": "1234567890"}, 655, "ERROR_INVALID_ORDER_ID"),
    ],
)
async def test_unknown_methods_and_orders(
    env: Setup, method: str, data: dict[str, Any], code: int, name: str
) -> None:
    with pytest.raises(TrustlyAPIError) as raised:
        await env.client.call(method, data)
    assert (raised.value.code, raised.value.message) == (code, name)


async def test_payout_to_an_unknown_account_is_refused(env: Setup) -> None:
    with pytest.raises(TrustlyAPIError) as raised:
        await env.client.execute(
            AccountPayoutRequest(
                notification_url=NOTIFY_URL,
                account_id="1111111111",
                end_user_id="user-1",
                message_id="pay-x",
                amount=Decimal("1.00"),
                currency="EUR",
                attributes=AccountPayoutAttributes(shopper_statement="Acme"),
            )
        )
    assert raised.value.code == 624


async def test_a_body_that_is_not_json_gets_an_unsigned_error(env: Setup) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=env.app)) as http:
        response = await http.post("http://emulator.test/api/1", content=b"{not json")
    assert response.json()["error"]["code"] == 620
    assert "error" not in response.json()["error"]


def test_the_sync_client_works_in_process_too(env: Setup) -> None:
    client = sync_client(env, url="http://emulator.test/1")
    try:
        result = client.execute(deposit())
        assert result.order_id in env.emulator.store.orders
        with pytest.raises(TrustlyAPIError) as raised:
            client.execute(deposit())
        assert raised.value.code == 637
    finally:
        client.close()
