"""``POST /trustly/notifications``: the body is read raw (signatures cover exactly it)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import anyio.to_thread
from anyio import CapacityLimiter
from fastapi import APIRouter, Request, Response

from fintrust.services.notifications import handle_notification

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["router"]

router = APIRouter(tags=["Trustly"])
# Enough threads to keep the database busy; more only queue for the GIL and the row locks.
NOTIFICATION_THREADS = 8


@router.post("/trustly/notifications", include_in_schema=False)
async def notification(request: Request) -> Response:
    services: Services = request.app.state.services
    limit = services.settings.max_notification_bytes
    body = b""
    async for chunk in request.stream():  # stop reading an oversized body early
        body += chunk
        if len(body) > limit:
            break
    limiter = getattr(request.app.state, "notification_limiter", None)
    if limiter is None:  # one per app, made inside its event loop
        limiter = request.app.state.notification_limiter = CapacityLimiter(NOTIFICATION_THREADS)
    answer = await anyio.to_thread.run_sync(
        partial(
            handle_notification,
            services.uow,
            body,
            verifier=services.trustly.verifier,
            signer=services.trustly.signer,
            max_bytes=limit,
        ),
        limiter=limiter,
    )
    return Response(answer.body, status_code=answer.status_code, media_type="application/json")
