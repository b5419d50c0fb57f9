"""The ASGI app: the JSON-RPC API, the checkout pages, the control plane and the inspector."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from trustly_emulator._checkout import router as checkout_router
from trustly_emulator._clock import ManualClock
from trustly_emulator._control import router as control_router
from trustly_emulator._emulator import Emulator
from trustly_emulator._inspector import router as inspector_router

__all__ = ["create_app"]

_STATIC = Path(__file__).parent / "static"
MAX_REQUEST_BYTES = 1024 * 1024


def create_app(
    emulator: Emulator | None = None, *, deliver_in_background: bool | None = None
) -> FastAPI:
    """Serve ``emulator``. Delivery runs in the background on the system clock; on a
    :class:`ManualClock` it runs only when the clock is advanced (``/_emulator/clock/advance``)
    or delivery is asked for (``/_emulator/deliver``)."""
    emulator = emulator or Emulator()
    background = (
        not isinstance(emulator.clock, ManualClock)
        if deliver_in_background is None
        else deliver_in_background
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(emulator.dispatcher.run_forever()) if background else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await emulator.aclose()

    app = FastAPI(
        title="Trustly emulator",
        summary="An offline, stateful, wire-compatible Trustly (EMEA JSON-RPC 1.1).",
        lifespan=lifespan,
        docs_url="/_emulator/docs",
        openapi_url="/_emulator/openapi.json",
        redoc_url=None,
    )
    app.state.emulator = emulator

    async def api(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_REQUEST_BYTES:
            return Response(status_code=413)
        return Response(emulator.handle_api(body), media_type="application/json; charset=UTF-8")

    # Both paths exist in the wild: /api/1 (test, older live) and /1 (current live).
    app.add_api_route("/api/1", api, methods=["POST"], include_in_schema=False)
    app.add_api_route("/1", api, methods=["POST"], include_in_schema=False)
    app.include_router(control_router)
    app.include_router(checkout_router)
    app.include_router(inspector_router)
    if _STATIC.is_dir():
        app.mount("/_emulator/static", StaticFiles(directory=_STATIC), name="static")
    return app
