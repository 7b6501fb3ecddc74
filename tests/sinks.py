"""Real OTLP sinks for the tests: a gRPC server and an HTTP server on 127.0.0.1, port 0.

Both record every request they accept (decoded with the official protobuf classes) and can be
scripted to fail: ``sink.fail_next(n, ...)`` makes the next ``n`` requests fail with the given
gRPC code or HTTP status (and optional retry hint).
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sv_otel.ingest.grpc import retry_trailers
from sv_otel.otlp_json import decode_json
from sv_otel.server.sockets import HttpServer, bind_socket


@dataclass
class Failure:
    """One scripted failure."""

    grpc_code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    http_status: int = 503
    retry_after: float | None = None


@dataclass
class Recorded:
    """What a sink received."""

    logs: list[ExportLogsServiceRequest] = field(default_factory=list)
    traces: list[ExportTraceServiceRequest] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    attempts: int = 0
    failures: list[Failure] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def fail_next(self, count: int, failure: Failure | None = None) -> None:
        self.failures.extend([failure or Failure()] * count)

    def take_failure(self) -> Failure | None:
        self.attempts += 1
        return self.failures.pop(0) if self.failures else None

    def log_records(self) -> list[LogRecord]:
        return [
            record
            for request in self.logs
            for resource in request.resource_logs
            for scope in resource.scope_logs
            for record in scope.log_records
        ]

    def session_event_names(self) -> list[tuple[str, str]]:
        """``(session.id, event_name)`` of every log record received."""
        out = []
        for request in self.logs:
            for resource in request.resource_logs:
                for scope in resource.scope_logs:
                    for record in scope.log_records:
                        attrs = {kv.key: kv.value.string_value for kv in record.attributes}
                        out.append((attrs.get("session.id", ""), record.event_name))
        return out

    def span_events(self) -> list[tuple[bytes, str]]:
        """``(trace_id, event name)`` of every span event received."""
        return [
            (span.trace_id, event.name)
            for request in self.traces
            for resource in request.resource_spans
            for scope in resource.scope_spans
            for span in scope.spans
            for event in span.events
        ]

    async def wait_for_records(self, count: int, timeout: float = 20.0) -> None:
        """Wait until ``count`` log records (or span events) arrived."""

        async def wait() -> None:
            while max(len(self.log_records()), len(self.span_events())) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(wait(), timeout)


class _Logs(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    async def Export(self, request, context):
        return await _grpc_export(self.recorded, request, context, "logs")


class _Traces(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    async def Export(self, request, context):
        return await _grpc_export(self.recorded, request, context, "traces")


async def _grpc_export(
    recorded: Recorded,
    request: ExportLogsServiceRequest | ExportTraceServiceRequest,
    context: grpc.aio.ServicerContext[Any, Any],
    signal: str,
) -> ExportLogsServiceResponse | ExportTraceServiceResponse:
    metadata = {k: v for k, v in context.invocation_metadata() or () if isinstance(v, str)}
    recorded.headers.append(metadata)
    failure = recorded.take_failure()
    if failure is not None:
        trailers: tuple[tuple[str, bytes], ...] = ()
        if failure.retry_after is not None:
            trailers = retry_trailers("try later", failure.retry_after)
        await context.abort(failure.grpc_code, "scripted failure", trailing_metadata=trailers)
    response: ExportLogsServiceResponse | ExportTraceServiceResponse
    if isinstance(request, ExportLogsServiceRequest):
        recorded.logs.append(request)
        response = logs_service_pb2.ExportLogsServiceResponse()
    else:
        recorded.traces.append(request)
        response = trace_service_pb2.ExportTraceServiceResponse()
    recorded.arrived.set()
    return response


@asynccontextmanager
async def grpc_sink(port: int = 0) -> AsyncIterator[tuple[Recorded, int]]:
    """A real OTLP/gRPC server on 127.0.0.1 (``port``, default any); yields records and port."""
    recorded = Recorded()
    server = grpc.aio.server()
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_Logs(recorded), server)
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_Traces(recorded), server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    try:
        yield recorded, port
    finally:
        await server.stop(grace=None)


def _http_app(recorded: Recorded) -> Starlette:
    async def export(request: Request) -> Response:
        signal = request.path_params["signal"]
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        recorded.headers.append(dict(request.headers))
        failure = recorded.take_failure()
        if failure is not None:
            headers = {}
            if failure.retry_after is not None:
                headers["Retry-After"] = str(int(failure.retry_after))
            return Response(
                b'{"code": 14, "message": "scripted failure"}',
                status_code=failure.http_status,
                headers=headers,
                media_type="application/json",
            )
        is_json = request.headers.get("content-type", "").startswith("application/json")
        response: bytes
        if signal == "logs":
            logs = (decode_json if is_json else _from_string)(body, ExportLogsServiceRequest)
            recorded.logs.append(logs)
            response = ExportLogsServiceResponse().SerializeToString()
        else:
            traces = (decode_json if is_json else _from_string)(body, ExportTraceServiceRequest)
            recorded.traces.append(traces)
            response = ExportTraceServiceResponse().SerializeToString()
        recorded.arrived.set()
        if is_json:
            return Response(b"{}", media_type="application/json")
        return Response(response, media_type="application/x-protobuf")

    return Starlette(routes=[Route("/v1/{signal}", export, methods=["POST"])])


M = TypeVar("M", ExportLogsServiceRequest, ExportTraceServiceRequest)


def _from_string(body: bytes, message_type: type[M]) -> M:
    return message_type.FromString(body)


@asynccontextmanager
async def http_sink() -> AsyncIterator[tuple[Recorded, int]]:
    """A real OTLP/HTTP server on 127.0.0.1 (``/v1/logs``, ``/v1/traces``)."""
    recorded = Recorded()
    server = HttpServer(_http_app(recorded), bind_socket("127.0.0.1", 0, reuse_port=False))
    await server.start()
    try:
        yield recorded, server.port
    finally:
        await server.shutdown()
