"""``IngestClient``: post events to a sessionvision ingest host the way the browser SDK does.

::

    async with sv_otel.IngestClient("https://app.sessionvision.com") as client:
        await client.send(events)

``POST {ingestHost}/api/v1/ingest/events``: one session per request, at most ``max_events``
events and ``max_bytes`` of JSON each (:mod:`~sv_otel.sessionvision.batching`), gzip, one
keep-alive connection pool, a timeout on every attempt, retries as in
:mod:`~sv_otel.sessionvision.retry`. Failures raise
:class:`~sv_otel.errors.RetryableExportError` or :class:`~sv_otel.errors.PermanentExportError`.

Posts go through an httpx transport: by default :class:`~sv_otel.sessionvision.transport.
IngestTransport` (keep-alive HTTP/1.1 on asyncio, about 50 microseconds of CPU a post against
httpx's default transport's 1 ms), or httpx's own when an ``HTTPS_PROXY`` / ``HTTP_PROXY`` /
``ALL_PROXY`` environment variable applies to the ingest host (and ``NO_PROXY`` does not), as
an :class:`httpx.AsyncClient` would (:mod:`~sv_otel.sessionvision.proxy` makes that choice).
Each request is built once from ready headers and handed straight to the transport.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Final
from urllib.parse import urlsplit

import httpx

from sv_otel._version import __version__
from sv_otel.batch import INGEST_PATH, parse_batch
from sv_otel.errors import (
    ConfigurationError,
    InvalidBatchError,
    PermanentExportError,
    RetryableExportError,
)
from sv_otel.event import Event
from sv_otel.exporter.answers import quote_answer
from sv_otel.headers import checked_headers
from sv_otel.session_json import SessionJson
from sv_otel.sessionvision.batching import GZIP_LEVEL, IngestRequest, build_requests
from sv_otel.sessionvision.metrics import count_attempt
from sv_otel.sessionvision.proxy import default_transport
from sv_otel.sessionvision.retry import DEFAULT_RETRY_DELAYS, Verdict, classify, parse_retry_after
from sv_otel.sessionvision.retry import retry_delay as next_delay

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_CONCURRENCY",
    "DEFAULT_MAX_EVENTS",
    "DEFAULT_TIMEOUT",
    "INGEST_PATH",
    "IngestClient",
]

DEFAULT_MAX_EVENTS: Final = 500
DEFAULT_MAX_BYTES: Final = 1024 * 1024
DEFAULT_TIMEOUT: Final = 10.0
DEFAULT_MAX_CONCURRENCY: Final = 8
_USER_AGENT: Final = f"sv-otel/{__version__}"


class IngestClient:
    """An async client of the sessionvision ingest API.

    Args:
        ingest_host: the SDK's ``ingestHost``, e.g. ``https://app.sessionvision.com``.
        token: a project token, sent in the body envelope (``{"events": [...], "token": ...}``).
        max_events: most events in one request.
        max_bytes: most bytes of JSON in one request, before compression.
        timeout: seconds for each attempt (connect, write, read each).
        retry_delays: seconds to wait before each retry of a 5xx / network failure.
        max_concurrency: requests in flight at once (and connections kept alive).
        gzip_level: the gzip level of request bodies, 1 (fastest) to 9 (smallest).
        max_sessions: most sessions in one request; 1 (the default) posts each session's
            events on their own, as the SDK does.
        headers: extra request headers (e.g. ``{"Authorization": "Bearer ..."}``).
        transport: an httpx transport (e.g. ``httpx.AsyncHTTPTransport(http2=True)``); default
            :class:`~sv_otel.sessionvision.transport.IngestTransport`, or httpx's own when a
            proxy environment variable applies to ``ingest_host``. The client closes it.

    Raises:
        ConfigurationError: a bad URL or limit.
    """

    def __init__(
        self,
        ingest_host: str,
        *,
        token: str | None = None,
        max_events: int = DEFAULT_MAX_EVENTS,
        max_bytes: int = DEFAULT_MAX_BYTES,
        timeout: float = DEFAULT_TIMEOUT,
        retry_delays: Sequence[float] = DEFAULT_RETRY_DELAYS,
        max_concurrency: int = DEFAULT_MAX_CONCURRENCY,
        gzip_level: int = GZIP_LEVEL,
        max_sessions: int = 1,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parts = urlsplit(ingest_host) if type(ingest_host) is str else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError(
                f"ingest host: expected an http(s) URL such as https://app.sessionvision.com, "
                f"got {ingest_host!r}"
            )
        limits = (
            ("max_events", max_events),
            ("max_bytes", max_bytes),
            ("max_sessions", max_sessions),
        )
        for name, value in limits:
            if type(value) is not int or value < 1:
                raise ConfigurationError(f"{name}: expected a positive integer, got {value!r}")
        if type(max_concurrency) is not int or max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency: expected >= 1, got {max_concurrency!r}")
        if type(gzip_level) is not int or not 1 <= gzip_level <= 9:
            raise ConfigurationError(f"gzip_level: expected 1 to 9, got {gzip_level!r}")
        if not timeout > 0:
            raise ConfigurationError(f"timeout: expected seconds > 0, got {timeout!r}")
        self.url = ingest_host.rstrip("/") + INGEST_PATH
        self.token = token
        self.max_events = max_events
        self.max_bytes = max_bytes
        self.gzip_level = gzip_level
        self.max_sessions = max_sessions
        self.retry_delays = tuple(float(delay) for delay in retry_delays)
        self._limit = asyncio.Semaphore(max_concurrency)
        self._transport = transport or default_transport(self.url, max_concurrency)
        self._target = httpx.URL(self.url)
        self._headers = httpx.Headers(
            {
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
                "User-Agent": _USER_AGENT,
                **checked_headers(dict(headers or {}), "headers"),
            }
        )
        self._extensions = {"timeout": httpx.Timeout(timeout).as_dict()}

    def requests(self, events: Sequence[Event] | SessionJson) -> list[IngestRequest]:
        """Cut ``events`` (or their JSON by session) into request bodies (one session each,
        within the limits)."""
        return build_requests(
            events,
            max_events=self.max_events,
            max_bytes=self.max_bytes,
            token=self.token,
            gzip_level=self.gzip_level,
            max_sessions=self.max_sessions,
        )

    async def send(self, events: Sequence[Event]) -> None:
        """Post all ``events``, requests in parallel (up to ``max_concurrency``).

        Raises:
            RetryableExportError: some request still failed after its retries (the message
                counts them); other requests may have been delivered.
            PermanentExportError: the host refused some request for good and none failed in a
                retryable way.
        """
        requests = self.requests(events)
        results = await asyncio.gather(*(self.post(r) for r in requests), return_exceptions=True)
        raise_worst(requests, results)

    async def post(self, request: IngestRequest) -> None:
        """Post one request, retrying 5xx answers, network errors and timeouts.

        Raises:
            RetryableExportError: still failing after the last retry, or 429.
            PermanentExportError: any other 3xx or 4xx answer.
        """
        async with self._limit:
            attempt = 0
            while True:
                error, retry_here = await self._attempt(request)
                if error is None:
                    count_attempt("delivered", request.events)
                    return
                delay = None
                if retry_here and isinstance(error, RetryableExportError):
                    delay = next_delay(attempt, error.retry_after, self.retry_delays)
                if delay is None:
                    rejected = isinstance(error, PermanentExportError)
                    count_attempt("rejected" if rejected else "failed", request.events)
                    raise error
                count_attempt("retried", 0)
                attempt += 1
                await asyncio.sleep(delay)

    async def _attempt(
        self, request: IngestRequest
    ) -> tuple[RetryableExportError | PermanentExportError | None, bool]:
        """One POST: the failure it ended in (None if delivered), and whether to retry here."""
        post = httpx.Request(
            "POST",
            self._target,
            headers=self._headers,
            content=request.body,
            extensions=self._extensions,
        )
        try:
            response = await self._transport.handle_async_request(post)
            try:
                await response.aread()
            finally:
                await response.aclose()
        except httpx.TimeoutException as error:
            return RetryableExportError(f"{self.url}: timed out ({type(error).__name__})"), True
        except httpx.TransportError as error:
            return RetryableExportError(f"{self.url}: {type(error).__name__}: {error}"), True
        verdict = classify(response.status_code)
        if verdict is Verdict.DELIVERED:
            return None, False
        message = f"{self.url}: HTTP {response.status_code}{_excerpt(response)}"
        if verdict is Verdict.REJECTED:
            return PermanentExportError(message), False
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if verdict is Verdict.RETRY:
            return RetryableExportError(message, retry_after=retry_after), True
        # Throttled: not retried here (the SDK retries 5xx only): the queue retries after the hint.
        return RetryableExportError(message, retry_after=retry_after or 1.0), False

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._transport.aclose()

    async def __aenter__(self) -> IngestClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def raise_worst(requests: Sequence[IngestRequest], results: Sequence[object]) -> None:
    """Raise for the worst outcome of parallel posts: retryable beats permanent beats success.

    Raises:
        RetryableExportError: at least one post failed in a retryable way.
        PermanentExportError: at least one was refused for good (and none retryable); its
            ``events`` are those of the refused posts.
    """
    retryable = [
        (r, e)
        for r, e in zip(requests, results, strict=True)
        if isinstance(e, RetryableExportError)
    ]
    rejected = [
        (r, e)
        for r, e in zip(requests, results, strict=True)
        if isinstance(e, PermanentExportError)
    ]
    for result in results:
        if isinstance(result, BaseException) and not isinstance(
            result, (RetryableExportError, PermanentExportError)
        ):
            raise result
    if retryable:
        hints = [e.retry_after for _, e in retryable if e.retry_after is not None]
        raise RetryableExportError(
            _summary("failed", retryable, len(requests)), retry_after=max(hints, default=None)
        )
    if rejected:
        # Only these requests' events are refused: read them back from their bodies (all of
        # the batch's, should a body not read back).
        try:
            refused: list[Event] | None = [
                event for request, _ in rejected for event in parse_batch(request.body).events
            ]
        except InvalidBatchError:
            refused = None
        raise PermanentExportError(
            _summary("were rejected", rejected, len(requests)), events=refused
        )


def _summary(
    what: str,
    failures: Sequence[tuple[IngestRequest, RetryableExportError | PermanentExportError]],
    total: int,
) -> str:
    events = sum(request.events for request, _ in failures)
    first = failures[0][1].message
    return f"{len(failures)} of {total} ingest requests ({events} events) {what}; first: {first}"


def _excerpt(response: httpx.Response) -> str:
    text = quote_answer(response.content[:1024].decode("utf-8", "replace"))
    return f": {text}" if text else ""
