"""The ``sessionvision.v1.Ingest`` gRPC service, for server-to-server senders.

It feeds the same sink as the HTTP endpoint and answers the same way in gRPC terms:

=====================================  ============================================
problem                                status
=====================================  ============================================
no token / unknown token               ``UNAUTHENTICATED`` / ``PERMISSION_DENIED``
not a valid ``EventBatch``             ``INVALID_ARGUMENT``
too many events                        ``RESOURCE_EXHAUSTED`` (non-retryable)
every event invalid                    ``INVALID_ARGUMENT`` (first message)
queue full / overloaded                ``UNAVAILABLE`` with ``RetryInfo`` (in both
                                       ``grpc-status-details-bin`` and
                                       ``google.rpc.retryinfo-bin``)
some events invalid                    ``OK``, ``IngestResponse.errors`` lists them
=====================================  ============================================

The token travels in the ``authorization: Bearer <token>`` metadata, the token header
(lower-cased), or ``EventBatch.token``; a token in the metadata is checked before the message
is read. The service takes the message as raw bytes and parses it itself, so that a message that
is not protobuf is answered ``INVALID_ARGUMENT`` naming the problem (grpcio's own deserializer
would log a traceback and answer ``UNKNOWN``). The message size limit (``max_body_bytes``) is
enforced by grpcio after decompression; a batch over :data:`OFFLOAD_BYTES` is parsed and
validated in a worker thread. A refused call's handler holds nothing of its batch when it
aborts: grpc.aio's abort raises, and the exception keeps the frame alive until a full garbage
collection.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import NoReturn

import grpc
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.rpc.code_pb2 import UNAVAILABLE
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sv_otel._proto.sessionvision.v1 import sessionvision_pb2
from sv_otel.components import EventSink
from sv_otel.errors import (
    AuthenticationError,
    OverloadedError,
    PermissionDeniedError,
    QueueFullError,
)
from sv_otel.event import Event, JSONValue
from sv_otel.ingest.auth import TokenCheck, bearer_token
from sv_otel.ingest.settings import IngestSettings
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.validate import event_from_json

__all__ = ["OFFLOAD_BYTES", "IngestServicer", "anyvalue_to_json", "retry_trailers"]

_MAX_ERRORS = 100
OFFLOAD_BYTES = 1024 * 1024
"""Batches larger than this are parsed and validated in a worker thread."""
_Context = grpc.aio.ServicerContext[bytes, sessionvision_pb2.IngestResponse]
SERVICE = "sessionvision.v1.Ingest"


class IngestServicer:
    """A ``grpc.aio`` servicer of ``sessionvision.v1.Ingest`` (see the module docstring).

    Register it with :meth:`rpc_handler`.
    """

    def __init__(
        self, sink: EventSink, settings: IngestSettings, metrics: GatewayMetrics, name: str
    ) -> None:
        self.sink = sink
        self.settings = settings
        self.tokens = TokenCheck(settings.tokens, settings.token_header)
        self.name = name
        self.in_flight = 0
        self._accepted = metrics.accepted.labels(name)
        self._rejected = metrics.rejected

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """The generic handler serving :meth:`Ingest` as ``sessionvision.v1.Ingest/Ingest``."""
        method: grpc.RpcMethodHandler[bytes, sessionvision_pb2.IngestResponse] = (
            grpc.unary_unary_rpc_method_handler(
                self.Ingest,
                response_serializer=sessionvision_pb2.IngestResponse.SerializeToString,
            )
        )
        return grpc.method_handlers_generic_handler(SERVICE, {"Ingest": method})

    async def Ingest(self, body: bytes, context: _Context) -> sessionvision_pb2.IngestResponse:
        """Validate and queue one serialized ``EventBatch``; see the module docstring."""
        metadata = {key: value for key, value in context.invocation_metadata() or ()}
        token = bearer_token(_text(metadata.get("authorization"))) or _text(
            metadata.get(self.tokens.header.lower())
        )
        if len(body) > OFFLOAD_BYTES:  # parsing megabytes must not stall the event loop
            outcome = await asyncio.to_thread(self._read, body, token)
        else:
            outcome = self._read(body, token)
        # An abort raises, and the exception keeps this frame until a full garbage collection:
        # nothing large may be referenced from it then (a rejected 10 MiB batch held 600 MB).
        del body
        if isinstance(outcome, _Refusal):
            await self._refuse(outcome, context)
        events, response = outcome
        del outcome
        refusal = await self._submit(events)
        if refusal is not None:
            del events
            await self._refuse(refusal, context)
        response.accepted = len(events)
        self._accepted.inc(len(events))
        return response

    def _read(
        self, body: bytes, token: str | None
    ) -> _Refusal | tuple[list[Event], sessionvision_pb2.IngestResponse]:
        """Check the token, parse and validate the batch: its events, or why it is refused."""
        if token is not None and (refusal := self._token_refusal(token)) is not None:
            return refusal
        try:
            request = sessionvision_pb2.EventBatch.FromString(body)
        except DecodeError as error:
            # upb's message ends with the problem: "Wire format was corrupt", "String field
            # had bad UTF-8"
            problem = str(error).rsplit(": ", 1)[-1]
            return _Refusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"body: not a valid sessionvision.v1.EventBatch: {problem}",
                "bad_request",
            )
        if token is None and (refusal := self._token_refusal(request.token or None)) is not None:
            return refusal
        limits = self.settings.limits
        if len(request.events) > limits.max_events:
            return _Refusal(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"events: {len(request.events)} events, over the limit of "
                f"{limits.max_events} per batch",
                "too_large",
            )
        events: list[Event] = []
        response = sessionvision_pb2.IngestResponse()
        for index, message in enumerate(request.events):
            outcome = event_from_json(_event_json(message), index, limits)
            if isinstance(outcome, str):
                response.rejected += 1
                if len(response.errors) < _MAX_ERRORS:
                    response.errors.add(index=index, message=outcome)
            else:
                events.append(outcome)
        if response.rejected:
            self._rejected.labels(self.name, "invalid_event").inc(response.rejected)
            if not events:
                return _Refusal(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"every event was rejected ({response.rejected}); first: "
                    f"{response.errors[0].message}",
                )
        return events, response

    def _token_refusal(self, token: str | None) -> _Refusal | None:
        try:
            self.tokens.check(token)
        except PermissionDeniedError as error:
            return _Refusal(grpc.StatusCode.PERMISSION_DENIED, error.message, "forbidden")
        except AuthenticationError as error:
            return _Refusal(grpc.StatusCode.UNAUTHENTICATED, error.message, "unauthenticated")
        return None

    async def _submit(self, events: list[Event]) -> _Refusal | None:
        if not events:
            return None
        try:
            if self.in_flight >= self.settings.max_concurrent_requests:
                raise OverloadedError(
                    "server: too many requests in flight; retry later",
                    retry_after=self.settings.retry_after,
                )
            self.in_flight += 1
            try:
                await self.sink.submit(events)
            finally:
                self.in_flight -= 1
        except QueueFullError as error:
            reason = "overloaded" if isinstance(error, OverloadedError) else "queue_full"
            trailers = retry_trailers(error.message, error.retry_after)
            return _Refusal(grpc.StatusCode.UNAVAILABLE, error.message, reason, trailers)
        return None

    async def _refuse(self, refusal: _Refusal, context: _Context) -> NoReturn:
        """Count the refusal and abort the call with it (raises)."""
        if refusal.reason is not None:
            self._rejected.labels(self.name, refusal.reason).inc()
        await context.abort(refusal.code, refusal.message, trailing_metadata=refusal.trailers)


@dataclass(frozen=True, slots=True)
class _Refusal:
    """Why a call is refused: its status, message, metrics reason (None: counted already) and
    trailing metadata."""

    code: grpc.StatusCode
    message: str
    reason: str | None = None
    trailers: tuple[tuple[str, bytes], ...] = ()


def retry_trailers(message: str, retry_after: float) -> tuple[tuple[str, bytes], ...]:
    """Trailing metadata carrying ``RetryInfo`` the way Go and Python OTLP clients read it."""
    delay = Duration()
    delay.FromNanoseconds(int(retry_after * 1e9))
    info = RetryInfo(retry_delay=delay)
    status = Status(code=UNAVAILABLE, message=message)
    status.details.add().Pack(info)
    return (
        ("grpc-status-details-bin", status.SerializeToString()),
        ("google.rpc.retryinfo-bin", info.SerializeToString()),
    )


def anyvalue_to_json(value: AnyValue) -> JSONValue:
    """The JSON value an ``AnyValue`` stands for (unset = null; bytes as latin-1 text)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "kvlist_value":
        return {kv.key: anyvalue_to_json(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [anyvalue_to_json(item) for item in value.array_value.values]
    if kind == "bytes_value":
        return value.bytes_value.decode("latin-1")
    return getattr(value, kind)


def _event_json(message: sessionvision_pb2.Event) -> dict[str, JSONValue]:
    raw: dict[str, JSONValue] = {
        "event": message.event,
        "timestamp": message.timestamp,
        "properties": {kv.key: anyvalue_to_json(kv.value) for kv in message.properties},
        "sessionId": message.session_id,
    }
    if message.HasField("anonymous_id"):
        raw["anonymousId"] = message.anonymous_id
    if message.HasField("user_id"):
        raw["userId"] = message.user_id
    return raw


def _text(value: str | bytes | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.decode("utf-8", "replace")
