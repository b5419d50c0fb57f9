"""``TrustlyClient`` (sync) and ``AsyncTrustlyClient`` (async) over httpx.

A call is *prepared* first (UUID chosen, Data signed, body encoded) and then *sent*. Preparation is
deterministic: the same method, data and UUID always give the same bytes, because PKCS#1 v1.5
signatures are deterministic. A retry therefore re-sends the identical request, which Trustly
answers with its first result (spec §2.6) instead of acting twice.
"""

from __future__ import annotations

import logging
import time
import uuid as uuid_module
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx

from fintrust.trustly._envelope import UUID_PATTERN, build_request, read_response
from fintrust.trustly._errors import ServerError, TransportError, TrustlyAPIError
from fintrust.trustly._keys import Environment
from fintrust.trustly._model import TrustlyRequest
from fintrust.trustly._signing import Signer, Verifier

__all__ = ["DEFAULT_TIMEOUT", "AsyncTrustlyClient", "PreparedCall", "TrustlyClient"]

logger = logging.getLogger("fintrust.trustly")

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Trustly documents no timeout; these are the official PHP client's (5 s connect, 30 s total)."""

_HEADERS = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
_Result = TypeVar("_Result")


@dataclass(frozen=True, slots=True)
class PreparedCall:
    """A signed request ready to send, and to re-send byte for byte."""

    method: str
    uuid: str
    body: bytes = field(repr=False)  # holds the API password: never log or print it
    reference: str | None = None  # MessageID or OrderID, for logs


class _ClientConfig:
    """What both clients share: credentials, keys, endpoint, retry policy, and preparation."""

    def __init__(
        self,
        *,
        username: str,
        password: str,
        signer: Signer,
        environment: Environment,
        verifier: Verifier | None,
        url: str | None,
        retries: int,
        backoff: float,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be zero or more")
        self.username = username
        self._password = password
        self.signer = signer
        self.environment = environment
        self.verifier = verifier or Verifier.for_environment(environment)
        self.url = url or environment.api_url
        self.retries = retries
        self.backoff = backoff

    def prepare(self, request: TrustlyRequest[Any], *, uuid: str | None = None) -> PreparedCall:
        """Sign a typed request. Pass the UUID of an earlier preparation to rebuild it exactly."""
        return self.prepare_raw(request.method, request.to_data(), uuid=uuid)

    def prepare_raw(
        self, method: str, data: Mapping[str, Any], *, uuid: str | None = None
    ) -> PreparedCall:
        """Sign any method's ``Data`` (without credentials), for methods without a typed model."""
        if "Username" in data or "Password" in data:
            raise ValueError("pass Data without Username/Password: the client adds its credentials")
        call_uuid = uuid or str(uuid_module.uuid4())
        if not UUID_PATTERN.match(call_uuid):
            raise ValueError("a Trustly UUID is 8-4-4-4-12 lower-case hex digits")
        signed_data = {"Username": self.username, "Password": self._password, **data}
        reference = data.get("MessageID") or data.get("OrderID")
        return PreparedCall(
            method=method,
            uuid=call_uuid,
            body=build_request(method, call_uuid, signed_data, self.signer),
            reference=str(reference) if reference is not None else None,
        )

    def give_up_or_retry(
        self, call: PreparedCall, attempt: int, started: float, exc: httpx.TransportError
    ) -> None:
        """After a network error: raise on the last attempt, else log the coming retry."""
        error = TransportError(
            f"{type(exc).__name__} after {attempt + 1} attempt(s)",
            method=call.method,
            uuid=call.uuid,
        )
        if attempt == self.retries:
            _log_failure(call, error, None, started)
            raise error from exc
        _log_retry(call, error)

    def is_answer(self, call: PreparedCall, attempt: int, response: httpx.Response) -> bool:
        """Whether to read ``response``: a bare 5xx is retried while attempts remain."""
        if response.status_code < 500 or response.content.lstrip().startswith(b"{"):
            return True  # a 5xx carrying a JSON-RPC body is an answer and is read as one
        if attempt == self.retries:
            return True
        _log_retry(
            call, ServerError(f"HTTP {response.status_code}", method=call.method, uuid=call.uuid)
        )
        return False

    def retry_delay(self, attempt: int) -> float:
        return float(self.backoff * (2**attempt))

    def read(self, call: PreparedCall, response: httpx.Response, started: float) -> Any:
        try:
            data = read_response(
                response.content,
                method=call.method,
                uuid=call.uuid,
                verifier=self.verifier,
                http_status=response.status_code,
            )
        except TrustlyAPIError as exc:
            _log_failure(call, exc, response.status_code, started)
            raise
        logger.info(
            "trustly call succeeded",
            extra={
                "trustly_method": call.method,
                "trustly_uuid": call.uuid,
                "trustly_reference": call.reference,
                "http_status": response.status_code,
                "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return data

    def __repr__(self) -> str:
        return f"<{self.url} as {self.username!r}>"


def _log_failure(
    call: PreparedCall, exc: TrustlyAPIError, status: int | None, started: float
) -> None:
    # Trustly asks merchants to log and investigate every error code (spec §5.5).
    logger.warning(
        "trustly call failed: %s",
        exc,
        extra={
            "trustly_method": call.method,
            "trustly_uuid": call.uuid,
            "trustly_reference": call.reference,
            "trustly_error_code": exc.code,
            "trustly_error_category": exc.category.value,
            "http_status": status,
            "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )


def _log_retry(call: PreparedCall, reason: TrustlyAPIError) -> None:
    logger.info(
        "retrying trustly call with the identical request: %s",
        reason,
        extra={"trustly_method": call.method, "trustly_uuid": call.uuid},
    )


class TrustlyClient(_ClientConfig):
    """Synchronous Trustly API client.

    >>> client = TrustlyClient(username="u", password="p", signer=Signer.from_file("key.pem"))
    >>> result = client.execute(DepositRequest(...))  # doctest: +SKIP
    """

    def __init__(
        self,
        *,
        username: str,
        password: str,
        signer: Signer,
        environment: Environment = Environment.TEST,
        verifier: Verifier | None = None,
        url: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
        http_client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            username=username,
            password=password,
            signer=signer,
            environment=environment,
            verifier=verifier,
            url=url,
            retries=retries,
            backoff=backoff,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout, transport=transport)
        self._sleep = sleep

    def send(self, call: PreparedCall) -> Any:
        """Send (and on network errors or a bare 5xx, re-send) the prepared bytes; return the
        verified ``data``."""
        started = time.perf_counter()
        for attempt in range(self.retries + 1):
            try:
                response = self._http.post(self.url, content=call.body, headers=_HEADERS)
            except httpx.TransportError as exc:
                self.give_up_or_retry(call, attempt, started, exc)
            else:
                if self.is_answer(call, attempt, response):
                    return self.read(call, response, started)
            self._sleep(self.retry_delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    def call(self, method: str, data: Mapping[str, Any], *, uuid: str | None = None) -> Any:
        """Call any method with raw ``Data`` (without credentials); returns verified ``data``."""
        return self.send(self.prepare_raw(method, data, uuid=uuid))

    def execute(self, request: TrustlyRequest[_Result], *, uuid: str | None = None) -> _Result:
        """Call a typed request (``DepositRequest``, ``AccountPayoutRequest``, ...) and return its
        typed result."""
        return request.parse_result(self.send(self.prepare(request, uuid=uuid)))

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> TrustlyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncTrustlyClient(_ClientConfig):
    """Asynchronous Trustly API client; the same behaviour as :class:`TrustlyClient`."""

    def __init__(
        self,
        *,
        username: str,
        password: str,
        signer: Signer,
        environment: Environment = Environment.TEST,
        verifier: Verifier | None = None,
        url: str | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        retries: int = 2,
        backoff: float = 0.5,
        transport: httpx.AsyncBaseTransport | None = None,
        http_client: httpx.AsyncClient | None = None,
        sleep: Callable[[float], Any] = anyio.sleep,
    ) -> None:
        super().__init__(
            username=username,
            password=password,
            signer=signer,
            environment=environment,
            verifier=verifier,
            url=url,
            retries=retries,
            backoff=backoff,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout, transport=transport)
        self._sleep = sleep

    async def send(self, call: PreparedCall) -> Any:
        """Send (and on network errors or a bare 5xx, re-send) the prepared bytes; return the
        verified ``data``."""
        started = time.perf_counter()
        for attempt in range(self.retries + 1):
            try:
                response = await self._http.post(self.url, content=call.body, headers=_HEADERS)
            except httpx.TransportError as exc:
                self.give_up_or_retry(call, attempt, started, exc)
            else:
                if self.is_answer(call, attempt, response):
                    return self.read(call, response, started)
            await self._sleep(self.retry_delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover

    async def call(self, method: str, data: Mapping[str, Any], *, uuid: str | None = None) -> Any:
        return await self.send(self.prepare_raw(method, data, uuid=uuid))

    async def execute(
        self, request: TrustlyRequest[_Result], *, uuid: str | None = None
    ) -> _Result:
        return request.parse_result(await self.send(self.prepare(request, uuid=uuid)))

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncTrustlyClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
