"""The app factory. Its routers share one :class:`Services` (database, Trustly, settings)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.types import Receive, Scope, Send

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.adapters.trustly import TrustlyGateway
from fintrust.settings import Settings
from fintrust.web.acceptance_hook import router as acceptance_router
from fintrust.web.api import router as api_router
from fintrust.web.metrics import router as metrics_router
from fintrust.web.metrics import waiting_registry
from fintrust.web.notifications import PATH as NOTIFICATIONS_PATH
from fintrust.web.notifications import TrustlyNotifications
from fintrust.web.pages import router as pages_router
from fintrust.web.pages import static_files

__all__ = ["MerchantApp", "Services", "create_app"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    trustly: TrustlyGateway

    def uow(self, *, write_behind: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, write_behind=write_behind)

    def reader(self) -> SqlUnitOfWork:
        """A read-only unit of work (pages, status polls): no write lock on SQLite."""
        return SqlUnitOfWork(self.engine, read_only=True)


class MerchantApp(FastAPI):
    """FastAPI, with Trustly's notifications passed straight to their own ASGI app."""

    def __init__(self, services: Services, **options: Any) -> None:
        super().__init__(**options)
        self.notifications = TrustlyNotifications(services)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == NOTIFICATIONS_PATH:
            await self.notifications(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def create_app(services: Services) -> FastAPI:
    app = MerchantApp(
        services,
        title="fintrust",
        summary="Move money through Trustly: wallet deposits and withdrawals.",
    )
    app.state.services = services
    app.state.uow = partial(SqlUnitOfWork, services.engine)
    app.include_router(pages_router)
    app.mount("/static", static_files(), name="static")
    app.include_router(api_router)
    app.state.waiting_metrics = waiting_registry(services)
    app.include_router(metrics_router)
    if services.settings.acceptance_hook:  # demo and tests only: see docs/emulator.md
        app.include_router(acceptance_router)
    return app
