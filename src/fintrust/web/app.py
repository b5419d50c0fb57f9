"""The app factory. Its routers share one :class:`Services` (database, Trustly, settings)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from fastapi import FastAPI
from sqlalchemy import Engine

from fintrust.adapters.db.uow import SqlUnitOfWork
from fintrust.adapters.trustly import TrustlyGateway
from fintrust.settings import Settings
from fintrust.web.notifications import router as notifications_router

__all__ = ["Services", "create_app"]


@dataclass(frozen=True)
class Services:
    settings: Settings
    engine: Engine
    trustly: TrustlyGateway

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine)


def create_app(services: Services) -> FastAPI:
    app = FastAPI(
        title="fintrust",
        summary="Move money through Trustly: wallet deposits and withdrawals.",
    )
    app.state.services = services
    app.state.uow = partial(SqlUnitOfWork, services.engine)
    app.include_router(notifications_router)
    return app
