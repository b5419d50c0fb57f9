"""``POST /trustly/notifications``: the body is read raw (signatures cover exactly it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from fintrust.services.notifications import handle_notification

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["router"]

router = APIRouter(tags=["Trustly"])


@router.post("/trustly/notifications", include_in_schema=False)
async def notification(request: Request) -> Response:
    services: Services = request.app.state.services
    limit = services.settings.max_notification_bytes
    body = b""
    async for chunk in request.stream():  # stop reading an oversized body early
        body += chunk
        if len(body) > limit:
            break
    answer = await run_in_threadpool(
        handle_notification,
        services.uow,
        body,
        verifier=services.trustly.verifier,
        signer=services.trustly.signer,
        max_bytes=limit,
    )
    return Response(answer.body, status_code=answer.status_code, media_type="application/json")
