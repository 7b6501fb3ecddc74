"""Failures as both transports report them: HTTP status + ``google.rpc.Status`` body, gRPC code
+ trailers.

:func:`failure_for` maps any exception met while handling a request to one :class:`Failure`;
the adapters only render it. The table (OTLP specification, "Failures" and "Throttling"):

=============================  ======  =====================  =================================
error                          HTTP    gRPC                   retried by clients
=============================  ======  =====================  =================================
undecodable data, bad gzip,    400     INVALID_ARGUMENT       no (``BadRequest`` in details)
unsupported Content-Encoding
over ``max_request_bytes``     413     RESOURCE_EXHAUSTED     no (no ``RetryInfo``)
body slower than               408     —                      (HTTP only; connection closed)
``read_timeout``
missing or wrong bearer token  401     UNAUTHENTICATED        no
a signal the receiver has no   404     UNIMPLEMENTED          no
sink for (:func:`not_served`)
queue full (``QueueFullError``)  503   UNAVAILABLE            yes, after ``Retry-After`` /
                                                              ``RetryInfo``
anything unexpected            500     INTERNAL               no
=============================  ======  =====================  =================================

gRPC ``RetryInfo`` goes into the standard ``grpc-status-details-bin`` trailer (read by grpc-go and
the Collector) *and* into ``google.rpc.retryinfo-bin``, the only place the Python OTLP exporter
reads it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Final

import grpc
from google.protobuf import duration_pb2
from google.rpc.error_details_pb2 import BadRequest, RetryInfo
from google.rpc.status_pb2 import Status

from sv_otel.errors import (
    AuthenticationError,
    InvalidBatchError,
    InvalidOTLPError,
    PayloadTooLargeError,
    QueueFullError,
    RequestTimeoutError,
    RetryableExportError,
    SvOtelError,
)
from sv_otel.otlp_json import encode_json
from sv_otel.receiver.signals import Signal

__all__ = [
    "GRPC_STATUS_DETAILS_KEY",
    "RETRY_INFO_KEY",
    "Failure",
    "encode_status",
    "failure_for",
    "grpc_trailers",
    "not_served",
    "protocol_refusal",
    "retry_after_header",
    "to_status",
]

logger = logging.getLogger(__name__)

GRPC_STATUS_DETAILS_KEY: Final = "grpc-status-details-bin"
RETRY_INFO_KEY: Final = "google.rpc.retryinfo-bin"


@dataclass(frozen=True, slots=True)
class Failure:
    """A failed request, ready to render on either transport.

    Attributes:
        http_status: the HTTP status code.
        grpc_code: the gRPC status code.
        message: an English message naming the problem.
        outcome: the ``outcome`` label of ``sv_otel_receiver_requests_total``.
        retry_after: seconds the client should wait before retrying, if retrying helps.
        bad_request: attach a ``google.rpc.BadRequest`` detail (data-caused failures).
    """

    http_status: int
    grpc_code: grpc.StatusCode
    message: str
    outcome: str
    retry_after: float | None = None
    bad_request: bool = field(default=False)


def failure_for(error: BaseException) -> Failure:
    """Map an exception raised while handling a request to its :class:`Failure`.

    Unexpected exceptions are logged with their traceback and answered with 500 / INTERNAL
    without leaking their text.
    """
    if isinstance(error, SvOtelError):
        message = error.message
        if isinstance(error, PayloadTooLargeError):
            return Failure(413, grpc.StatusCode.RESOURCE_EXHAUSTED, message, "too_large")
        if isinstance(error, RequestTimeoutError):
            return Failure(408, grpc.StatusCode.DEADLINE_EXCEEDED, message, "timeout")
        if isinstance(error, (InvalidOTLPError, InvalidBatchError)):
            return Failure(400, grpc.StatusCode.INVALID_ARGUMENT, message, "invalid", None, True)
        if isinstance(error, AuthenticationError):
            return Failure(401, grpc.StatusCode.UNAUTHENTICATED, message, "unauthenticated")
        if isinstance(error, QueueFullError):
            return Failure(
                503, grpc.StatusCode.UNAVAILABLE, message, "throttled", error.retry_after
            )
        if isinstance(error, RetryableExportError):
            delay = error.retry_after if error.retry_after is not None else 1.0
            return Failure(503, grpc.StatusCode.UNAVAILABLE, message, "throttled", delay)
    logger.error("OTLP receiver: unexpected error", exc_info=error)
    return Failure(
        500, grpc.StatusCode.INTERNAL, "internal error; see the receiver's log", "failed"
    )


def not_served(signal: Signal) -> Failure:
    """The answer for a signal this receiver takes no data of (it has no sink for it)."""
    message = f"{signal.name}: not accepted by this receiver (it feeds no {signal.name} pipeline)"
    return Failure(404, grpc.StatusCode.UNIMPLEMENTED, message, "unsupported")


def protocol_refusal(status: int, error: str, message: str) -> tuple[str, bytes]:
    """The body of a 408 or 431 that the HTTP protocol answers before a request's headers are
    complete: a ``Status`` in JSON, as for every request whose content type is not known.

    A :data:`sv_otel.server.refusals.Refusal`.
    """
    code = _REFUSAL_CODES.get(status, grpc.StatusCode.INTERNAL)
    body = encode_status(Failure(status, code, message, error), json=True)
    return "application/json", body


_REFUSAL_CODES: Final = {
    408: grpc.StatusCode.DEADLINE_EXCEEDED,
    431: grpc.StatusCode.RESOURCE_EXHAUSTED,
}


def to_status(failure: Failure) -> Status:
    """The ``google.rpc.Status`` of a failure, with ``BadRequest`` / ``RetryInfo`` details."""
    status = Status(code=failure.grpc_code.value[0], message=failure.message)
    if failure.bad_request:
        where, _, _ = failure.message.partition(": ")
        violation = BadRequest.FieldViolation(
            field=where if where != failure.message else "body", description=failure.message
        )
        status.details.add().Pack(BadRequest(field_violations=[violation]))
    if failure.retry_after is not None:
        status.details.add().Pack(_retry_info(failure.retry_after))
    return status


def encode_status(failure: Failure, *, json: bool) -> bytes:
    """The HTTP error body: the ``Status`` in the request's encoding (JSON or protobuf)."""
    status = to_status(failure)
    return encode_json(status) if json else status.SerializeToString()


def grpc_trailers(failure: Failure) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata for a gRPC failure: the status details, and RetryInfo on its own."""
    status = to_status(failure)
    trailers = [(GRPC_STATUS_DETAILS_KEY, status.SerializeToString())]
    if failure.retry_after is not None:
        trailers.append((RETRY_INFO_KEY, _retry_info(failure.retry_after).SerializeToString()))
    return tuple(trailers)


def retry_after_header(seconds: float) -> str:
    """``Retry-After`` in whole seconds (HTTP has no fractions), rounded up, at least 1."""
    return str(max(1, math.ceil(seconds)))


def _retry_info(seconds: float) -> RetryInfo:
    delay = duration_pb2.Duration()
    delay.FromNanoseconds(max(0, round(seconds * 1e9)))
    return RetryInfo(retry_delay=delay)
