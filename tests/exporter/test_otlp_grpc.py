"""The OTLP/gRPC exporter against a real gRPC server on 127.0.0.1."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest

from sv_otel.errors import PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.exporter.otlp_grpc import OTLPGrpcExporter
from sv_otel.exporter.otlp_settings import OTLPSettings
from tests.sinks import Failure, grpc_sink

pytestmark = pytest.mark.anyio

EVENTS = [
    Event(event="a", timestamp=1, session_id="s1"),
    Event(event="b", timestamp=2, session_id="s2"),
]


async def test_exports_logs_and_traces_with_headers_and_gzip() -> None:
    async with grpc_sink() as (sink, port):
        settings = OTLPSettings(
            endpoint=f"127.0.0.1:{port}",
            insecure=True,
            headers={"X-Tenant": "t"},  # gRPC metadata names must be lower case: sent so
            compression="gzip",
        )
        for signal in ("logs", "traces"):
            exporter = OTLPGrpcExporter("otlp", signal, settings)
            await exporter.export(EVENTS)
            await exporter.shutdown()
    assert sink.session_event_names() == [("s1", "a"), ("s2", "b")]
    assert [name for _, name in sink.span_events()] == ["a", "b"]
    assert sink.headers[0]["x-tenant"] == "t"
    assert sink.headers[0]["user-agent"].startswith("sv-otel/")


async def test_unavailable_with_retry_info_is_retryable_with_its_delay() -> None:
    async with grpc_sink() as (sink, port):
        sink.fail_next(1, Failure(grpc.StatusCode.UNAVAILABLE, retry_after=2.0))
        exporter = OTLPGrpcExporter(
            "otlp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        with pytest.raises(RetryableExportError) as raised:
            await exporter.export(EVENTS)
        await exporter.shutdown()
    assert raised.value.retry_after == 2.0
    assert raised.value.message == "gRPC UNAVAILABLE: scripted failure"


async def test_invalid_argument_is_permanent() -> None:
    async with grpc_sink() as (sink, port):
        sink.fail_next(1, Failure(grpc.StatusCode.INVALID_ARGUMENT))
        exporter = OTLPGrpcExporter(
            "otlp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        with pytest.raises(PermanentExportError, match="gRPC INVALID_ARGUMENT: scripted failure"):
            await exporter.export(EVENTS)
        await exporter.shutdown()


async def test_a_server_that_is_down_is_retryable() -> None:
    async with grpc_sink() as (_, port):
        pass  # stopped: nothing listens on the port any more
    settings = OTLPSettings(endpoint=f"http://127.0.0.1:{port}", timeout=2.0)
    exporter = OTLPGrpcExporter("otlp", "logs", settings)
    with pytest.raises(RetryableExportError, match="gRPC UNAVAILABLE"):
        await exporter.export(EVENTS)
    await exporter.shutdown()


async def test_an_ok_answer_that_cannot_be_read_is_still_a_delivery(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # An OK with a truncated body: grpcio's own deserializer would have made it None, and
    # raising would send the batch again, for ever, to a backend that had taken it.
    calls: list[bytes] = []

    async def export(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        calls.append(request)
        return b"\x0a\x05\x08"

    async with logs_backend(export) as exporter:
        with caplog.at_level(logging.WARNING, logger="sv_otel.exporter.otlp_grpc"):
            await exporter.export(EVENTS)
    assert len(calls) == 1
    assert [r.getMessage() for r in caplog.records if r.name == "sv_otel.exporter.otlp_grpc"] == [
        "otlp: the backend answered OK with a body that is not an Export*ServiceResponse; "
        "taken as delivered"
    ]


async def test_large_trailers_keep_their_meaning() -> None:
    # 20 KB of trailing metadata: over grpcio's 16 KiB default, which made an OK a local
    # RESOURCE_EXHAUSTED (dead-lettered after the backend took the batch).
    big = (("x-backend-note", "n" * 20_000),)
    answers = iter([grpc.StatusCode.OK, grpc.StatusCode.UNAVAILABLE])

    async def export(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        code = next(answers)
        if code != grpc.StatusCode.OK:
            await context.abort(code, "busy", trailing_metadata=big)
        context.set_trailing_metadata(big)
        return b""

    async with logs_backend(export) as exporter:
        await exporter.export(EVENTS)  # delivered
        with pytest.raises(RetryableExportError, match="gRPC UNAVAILABLE: busy"):
            await exporter.export(EVENTS)


Handler = Callable[[bytes, grpc.aio.ServicerContext[bytes, bytes]], Awaitable[bytes]]


@contextlib.asynccontextmanager
async def logs_backend(export: Handler) -> AsyncIterator[OTLPGrpcExporter]:
    """A LogsService answering with ``export`` (raw bytes), and an exporter pointed at it."""
    server = grpc.aio.server()
    method: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(export)
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "opentelemetry.proto.collector.logs.v1.LogsService", {"Export": method}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    settings = OTLPSettings(endpoint=f"127.0.0.1:{port}", insecure=True)
    exporter = OTLPGrpcExporter("otlp", "logs", settings)
    try:
        yield exporter
    finally:
        await exporter.shutdown()
        await server.stop(None)
