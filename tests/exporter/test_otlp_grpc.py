"""The OTLP/gRPC exporter against a real gRPC server on 127.0.0.1."""

from __future__ import annotations

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
            headers={"x-tenant": "t"},
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
