"""API-key authentication for the merchant API: ``Authorization: Bearer <key>`` or
``X-API-Key: <key>``. Anything else is a 401 whose message says what to send, never the key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from fintrust.services.api_keys import ApiKey, ApiKeyError, verify_api_key

if TYPE_CHECKING:
    from fintrust.web.app import Services

__all__ = ["Authenticated", "authenticate"]

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <API key>`")
_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <API key>`")
_HOW = "send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' (create one with " + (
    "'fintrust api-keys create NAME')"
)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": 'Bearer realm="fintrust"'})


def authenticate(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    header_key: Annotated[str | None, Security(_header)],
) -> ApiKey:
    if bearer is not None:
        secret = bearer.credentials.strip()
    elif header_key is not None:
        secret = header_key.strip()
    elif request.headers.get("authorization"):
        raise _unauthorized(f"the Authorization header is not a Bearer key: {_HOW}")
    else:
        raise _unauthorized(f"missing API key: {_HOW}")
    services: Services = request.app.state.services
    try:
        return verify_api_key(services.uow, secret)
    except ApiKeyError as exc:
        raise _unauthorized(str(exc)) from None


Authenticated = Annotated[ApiKey, Depends(authenticate)]
