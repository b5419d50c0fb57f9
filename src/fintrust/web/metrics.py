"""``GET /metrics``: this process's counters and what waits in the database, for Prometheus.

Open unless ``FINTRUST_METRICS_TOKEN`` is set; then only ``Authorization: Bearer <token>``
reads it (Prometheus: ``authorization: {credentials: …}`` in the scrape config).
"""

from __future__ import annotations

import hmac
from functools import partial
from typing import TYPE_CHECKING

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from fintrust.metrics import WaitingCollector, exposition
from fintrust.services.operations import snapshot

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["router", "waiting_registry"]

router = APIRouter()


def waiting_registry(services: Services) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(WaitingCollector(partial(snapshot, services.reader)))
    return registry


@router.get("/metrics", include_in_schema=False)
def metrics(request: Request) -> Response:
    services: Services = request.app.state.services
    token = services.settings.metrics_token.get_secret_value()
    if token:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
            raise HTTPException(
                401,
                "send 'Authorization: Bearer <FINTRUST_METRICS_TOKEN>'",
                headers={"WWW-Authenticate": 'Bearer realm="fintrust metrics"'},
            )
    body = exposition(request.app.state.waiting_metrics)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
