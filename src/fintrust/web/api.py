"""The merchant HTTP API under ``/api/v1``: customers, balances, deposits, withdrawals and
orders with their notifications. API-key authentication (:mod:`fintrust.web._auth`);
``Idempotency-Key`` on every POST (:mod:`fintrust.web._idempotency`); every error is JSON
``{"error": "..."}``.

Handlers are plain functions: FastAPI runs them in its thread pool, where the services' blocking
database and Trustly calls belong.
"""

from __future__ import annotations

import logging
import uuid as uuid_module
from collections.abc import Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from fintrust.adapters.db.schema import MAX_ID
from fintrust.domain.ledger import wallet
from fintrust.services import outbox, payments
from fintrust.services.customers import (
    CustomerExistsError,
    CustomerNotFoundError,
    Wallet,
    register_customer,
)
from fintrust.web._api_models import (
    BalanceOut,
    BalancesOut,
    CustomerIn,
    CustomerOut,
    DepositIn,
    DepositRefusedOut,
    ErrorOut,
    NotificationOut,
    OrderDetailOut,
    OrderOut,
    OrdersOut,
    WithdrawalIn,
    amount_text,
    customer_out,
    order_out,
    timestamp,
)
from fintrust.web._auth import Authenticated
from fintrust.web._idempotency import (
    Answer,
    Claim,
    EffectUnitOfWork,
    IdempotencyKey,
    error,
    fingerprint,
    run_idempotent,
)

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["router"]

logger = logging.getLogger("fintrust.api")
# A number beyond the id columns' range is refused (422), not looked up (that was a 500).
RowId = Annotated[int, Path(ge=1, le=MAX_ID)]

MAX_BODY_BYTES = 16 * 1024


def _json_error(
    status_code: int, message: str, headers: Mapping[str, str] | None = None
) -> Response:
    return JSONResponse({"error": message}, status_code=status_code, headers=headers)


def _describe(exc: RequestValidationError) -> str:
    problems = []
    for problem in exc.errors():
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body")
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        problems.append(f"{where}: {message}" if where else message)
    return "; ".join(problems) or "invalid request"


class ApiRoute(APIRoute):
    """Every error of this router as ``{"error": "..."}``, without touching the app's own
    handlers (other routers serve HTML pages and Trustly)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return _json_error(422, _describe(exc))
            except StarletteHTTPException as exc:
                return _json_error(exc.status_code, str(exc.detail), exc.headers)
            except Exception:
                logger.exception("merchant API %s %s failed", request.method, request.url.path)
                return _json_error(
                    500, "internal error; retrying with the same Idempotency-Key is safe"
                )

        return handle


def _limit_body(request: Request) -> None:
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY_BYTES:
        raise HTTPException(413, f"request bodies are limited to {MAX_BODY_BYTES} bytes")


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorOut} for code in codes}


router = APIRouter(
    prefix="/api/v1",
    tags=["Merchant API"],
    route_class=ApiRoute,
    dependencies=[Depends(_limit_body)],
    responses=_errors(401, 422),
)


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def _idempotent(
    request: Request, api_key_id: int, key: str, body: BaseModel, effect: Callable[[Claim], Answer]
) -> Response:
    services = _services(request)
    request_hash = fingerprint(request.method, request.url.path, body.model_dump(mode="json"))
    return run_idempotent(services.engine, api_key_id, key, request_hash, effect)


def _not_found(what: str, key: int) -> HTTPException:
    return HTTPException(404, f"no {what} {key}")


# ----------------------------------------------------------------------------- customers


@router.post(
    "/customers",
    status_code=201,
    response_model=CustomerOut,
    responses=_errors(400, 409),
    summary="Register a customer with a wallet",
)
def create_customer(
    request: Request, api_key: Authenticated, key: IdempotencyKey, body: CustomerIn
) -> Response:
    services = _services(request)

    def effect(claim: Claim) -> Answer:
        # Chosen once per request: a retry gets the stored answer, so the same customer.
        end_user_id = body.end_user_id or f"cust-{uuid_module.uuid4()}"

        def answer(work: EffectUnitOfWork) -> Answer:
            row = work.customers.by_end_user_id(end_user_id)
            return Answer(201, customer_out(row).model_dump(mode="json"))

        try:
            register_customer(
                claim.unit_of_work(answer),
                end_user_id=end_user_id,
                firstname=body.firstname,
                lastname=body.lastname,
                country=body.country,
                locale=body.locale,
                currency=body.currency,
                email=body.email,
                national_id=body.national_id,
            )
        except (CustomerExistsError, IntegrityError):  # checked, or lost a race to the index
            with services.reader() as work:
                existing = work.customers.by_end_user_id(end_user_id)
            if existing is None:
                raise
            return error(409, f"end_user_id {end_user_id} is customer {existing.id} already")
        return claim.result()

    return _idempotent(request, api_key.id, key, body, effect)


@router.get(
    "/customers/{customer_id}",
    response_model=CustomerOut,
    responses=_errors(404),
    summary="A customer",
)
def get_customer(request: Request, api_key: Authenticated, customer_id: RowId) -> CustomerOut:
    with _services(request).reader() as work:
        row = work.customers.get(customer_id)
    if row is None:
        raise _not_found("customer", customer_id)
    return customer_out(row)


@router.get(
    "/customers/{customer_id}/balances",
    response_model=BalancesOut,
    responses=_errors(404),
    summary="The customer's wallet balances, per currency",
)
def get_balances(request: Request, api_key: Authenticated, customer_id: RowId) -> BalancesOut:
    with _services(request).reader() as work:
        if work.customers.get(customer_id) is None:
            raise _not_found("customer", customer_id)
        accounts = work.ledger.accounts(wallet(customer_id))
    return BalancesOut(
        customer_id=customer_id,
        balances=[
            BalanceOut(
                currency=account.currency,
                posted=amount_text(account.posted),
                available=amount_text(account.available),
                frozen=Wallet(account).frozen,
            )
            for account in accounts
        ],
    )


@router.get(
    "/customers/{customer_id}/orders",
    response_model=OrdersOut,
    responses=_errors(404),
    summary="The customer's orders, newest first",
)
def list_orders(
    request: Request,
    api_key: Authenticated,
    customer_id: RowId,
    kind: Literal["deposit", "payout", "select_account"] | None = None,
) -> OrdersOut:
    with _services(request).reader() as work:
        if work.customers.get(customer_id) is None:
            raise _not_found("customer", customer_id)
        rows = work.orders.of_customer(customer_id, kind)
    return OrdersOut(orders=[order_out(row) for row in rows])


# ----------------------------------------------------------------------------- money


@router.post(
    "/customers/{customer_id}/deposits",
    status_code=201,
    response_model=OrderOut,
    responses={
        202: {"model": OrderOut, "description": "Deposit call outcome unknown: re-sent later"},
        502: {"model": DepositRefusedOut, "description": "Trustly refused the Deposit call"},
        **_errors(400, 404, 409),
    },
    summary="Start a deposit: answers Trustly's checkout URL",
)
def create_deposit(
    request: Request,
    api_key: Authenticated,
    key: IdempotencyKey,
    customer_id: RowId,
    body: DepositIn,
) -> Response:
    services = _services(request)
    money = body.money()

    def provisional(work: EffectUnitOfWork) -> Answer:
        # A wallet opened by its first credit would lack the no-overdraft flag: open it now.
        work.ledger.account(wallet(customer_id), money.currency, no_overdraft=True)
        return Answer(202, _order(work, work.new_order_ids[-1]))

    def effect(claim: Claim) -> Answer:
        try:
            started = payments.start_deposit(
                claim.unit_of_work(provisional, final=False),
                customer_id=customer_id,
                amount=money,
                notification_url=services.settings.notification_url,
                success_url=body.success_url,
                fail_url=body.fail_url,
                shopper_statement=services.settings.shopper_statement,
            )
        except CustomerNotFoundError:
            return error(404, f"no customer {customer_id}")
        # The customer waits for the URL: send now. The worker re-sends an unknown outcome.
        outcome = outbox.send_now(services.uow, services.trustly.client, started.outbox_id)
        with services.reader() as work:
            order = _order(work, started.order_id)
        if order["state"] == "started":
            return Answer(201, order)
        if outcome in ("failed", "duplicate"):
            return error(502, f"Trustly refused the deposit: {order['error']}", order=order)
        return Answer(202, order)

    return _idempotent(request, api_key.id, key, body, effect)


@router.post(
    "/customers/{customer_id}/withdrawals",
    status_code=201,
    response_model=OrderOut,
    responses=_errors(400, 404, 409),
    summary="Withdraw to the account the customer deposited from",
)
def create_withdrawal(
    request: Request,
    api_key: Authenticated,
    key: IdempotencyKey,
    customer_id: RowId,
    body: WithdrawalIn,
) -> Response:
    services = _services(request)
    money = body.money()

    def answer(work: EffectUnitOfWork) -> Answer:
        return Answer(201, _order(work, work.new_order_ids[-1]))

    def effect(claim: Claim) -> Answer:
        try:
            payments.request_withdrawal(
                claim.unit_of_work(answer),
                customer_id=customer_id,
                amount=money,
                notification_url=services.settings.notification_url,
                shopper_statement=services.settings.shopper_statement,
            )
        except CustomerNotFoundError:
            return error(404, f"no customer {customer_id}")
        except payments.WithdrawalRefusedError as exc:
            return error(422, f"withdrawal refused: {exc}")
        return claim.result()

    return _idempotent(request, api_key.id, key, body, effect)


def _order(work: Any, order_id: int) -> dict[str, Any]:
    row = work.orders.get(order_id)
    assert row is not None
    return order_out(row).model_dump(mode="json")


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetailOut,
    responses=_errors(404),
    summary="An order with the notifications Trustly sent about it",
)
def get_order(request: Request, api_key: Authenticated, order_id: RowId) -> OrderDetailOut:
    with _services(request).reader() as work:
        row = work.orders.get(order_id)
        if row is None:
            raise _not_found("order", order_id)
        notifications = work.inbox.of_order(order_id)
    return OrderDetailOut(
        **order_out(row).model_dump(),
        notifications=[
            NotificationOut(
                notification_id=n.notification_id,
                method=n.method,
                reply_status=n.reply_status,
                outcome=n.outcome,
                received_at=timestamp(n.received_at),
            )
            for n in notifications
        ],
    )
