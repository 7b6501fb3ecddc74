"""The one exception hierarchy of sv_otel.

Every error that sv_otel raises on purpose derives from :class:`SvOtelError`. Each class carries an
``status_hint``: the HTTP status a server should answer with when the error is caused by a request
(h11's ``error_status_hint`` idea)::

    SvOtelError                      500  base class; never raised directly
    +-- InvalidBatchError            400  a sessionvision batch that cannot be read at all
    |   +-- PayloadTooLargeError     413  over a size limit (checked after decompression)
    |   +-- UnsupportedEncodingError 415  a Content-Encoding sv_otel does not speak
    |   +-- UnsupportedMediaTypeError 415 a Content-Type that is not a sessionvision batch
    |   +-- RequestTimeoutError      408  the body did not arrive in time (slow-loris)
    +-- InvalidOTLPError             400  OTLP data (protobuf or JSON) that cannot be decoded
    |   +-- ValueTooDeepError        400  a record's value nests too deep (only it is rejected)
    +-- AuthenticationError          401  no project token where one is required
    |   +-- PermissionDeniedError    403  a project token that is not configured
    +-- QueueFullError               503  the durable queue is full: try again after ``retry_after``
    |   +-- OverloadedError          503  too many requests in flight (``retry_after`` too)
    +-- ExportError                  502  an exporter could not deliver a batch
    |   +-- RetryableExportError     503  worth trying again (after ``retry_after``, if known)
    |   +-- PermanentExportError     502  never worth retrying: the batch is dead-lettered
    +-- ConfigurationError           500  a bad setting or argument, found at start-up
    +-- InvalidSessionRequestError   400  a session start request that cannot be honoured
    |   +-- InvalidSessionTokenError 401  a malformed, forged or expired session token or hash
    +-- SessionNotFoundError         404  no session with that id in the data directory

Messages are plain English sentences that name the offending field, e.g.
``body: not JSON (invalid character at byte 0)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from sv_otel.event import Event

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "ExportError",
    "InvalidBatchError",
    "InvalidOTLPError",
    "InvalidSessionRequestError",
    "InvalidSessionTokenError",
    "OverloadedError",
    "PayloadTooLargeError",
    "PermanentExportError",
    "PermissionDeniedError",
    "QueueFullError",
    "RequestTimeoutError",
    "RetryableExportError",
    "SessionNotFoundError",
    "SvOtelError",
    "UnsupportedEncodingError",
    "UnsupportedMediaTypeError",
    "ValueTooDeepError",
]


class SvOtelError(Exception):
    """Base class of every error raised by sv_otel."""

    status_hint: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidBatchError(SvOtelError):
    """A sessionvision batch body that cannot be read at all (not JSON, not an event list)."""

    status_hint: ClassVar[int] = 400


class PayloadTooLargeError(InvalidBatchError):
    """A body over a size limit; the limit applies to the decompressed bytes."""

    status_hint: ClassVar[int] = 413


class UnsupportedEncodingError(InvalidBatchError):
    """A ``Content-Encoding`` other than ``gzip`` or ``identity``."""

    status_hint: ClassVar[int] = 415


class UnsupportedMediaTypeError(InvalidBatchError):
    """A ``Content-Type`` that is not JSON or text (the ingest endpoint's 415)."""

    status_hint: ClassVar[int] = 415


class RequestTimeoutError(InvalidBatchError):
    """The request body did not arrive within the configured time (a slow or stalled client)."""

    status_hint: ClassVar[int] = 408


class InvalidOTLPError(SvOtelError):
    """OTLP protobuf or OTLP/JSON data that cannot be decoded."""

    status_hint: ClassVar[int] = 400


class ValueTooDeepError(InvalidOTLPError):
    """An ``AnyValue`` nested deeper than the readers follow, in a message that is otherwise sound.

    The readers reject the record (or span) holding it, in ``partial_success``, and read the rest
    of the request; other parsers read such a value, so refusing the whole request would lose
    records no one could fault.
    """


class AuthenticationError(SvOtelError):
    """A project token is required and the request carries none."""

    status_hint: ClassVar[int] = 401


class PermissionDeniedError(AuthenticationError):
    """The request carries a project token that is not one of the configured tokens."""

    status_hint: ClassVar[int] = 403


class QueueFullError(SvOtelError):
    """The durable queue has no room: the client should retry after ``retry_after`` seconds.

    Servers answer it with 503 and ``Retry-After`` (never 429: the sessionvision SDK retries only
    5xx), or gRPC ``UNAVAILABLE`` with ``RetryInfo``.
    """

    status_hint: ClassVar[int] = 503

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class OverloadedError(QueueFullError):
    """Too many requests are in flight: the client should retry after ``retry_after`` seconds."""


class ExportError(SvOtelError):
    """An exporter could not deliver a batch to its destination."""

    status_hint: ClassVar[int] = 502


class RetryableExportError(ExportError):
    """A failure worth retrying (network error, 5xx, ``UNAVAILABLE``...).

    ``retry_after`` is the destination's own hint (``Retry-After``, gRPC ``RetryInfo``), in
    seconds, or None to let the caller's backoff decide.
    """

    status_hint: ClassVar[int] = 503

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentExportError(ExportError):
    """A failure that retrying cannot fix (400, ``INVALID_ARGUMENT``...): dead-letter the batch.

    ``events`` are the events refused when the destination took the rest of the batch (an
    exporter that sends one batch as several requests); None when it refused all of it.
    """

    def __init__(self, message: str, *, events: Sequence[Event] | None = None) -> None:
        super().__init__(message)
        self.events = events


class ConfigurationError(SvOtelError):
    """A bad setting, argument or configuration file."""

    status_hint: ClassVar[int] = 500


class InvalidSessionRequestError(SvOtelError):
    """A session start request that cannot be honoured (not JSON, a field of the wrong type...)."""

    status_hint: ClassVar[int] = 400


class InvalidSessionTokenError(InvalidSessionRequestError):
    """A session token or ``sessionHash`` that is malformed, forged or expired."""

    status_hint: ClassVar[int] = 401


class SessionNotFoundError(SvOtelError):
    """No session with the requested id is recorded in the data directory."""

    status_hint: ClassVar[int] = 404
