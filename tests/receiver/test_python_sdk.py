"""The OTel Python SDK's own OTLP exporters (gRPC, HTTP/protobuf) send to the receiver; what
reaches the sessionvision ingest server is checked event by event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.trace.export import SpanExporter
from prometheus_client import REGISTRY

from sv_otel.errors import QueueFullError
from tests.loop_thread import LoopThread
from tests.receiver.harness import RecordingSink
from tests.receiver.pipeline import Pipeline, running_pipeline
from tests.receiver.sdk import (
    PROTOCOLS,
    emit_logs,
    expected_log_events,
    expected_span_events,
    log_exporter,
    make_spans,
    span_exporter,
)


@pytest.fixture
def pipeline(loop: LoopThread) -> Iterator[Pipeline]:
    with running_pipeline(loop) as pipeline:
        yield pipeline


def _span_exporter(protocol: str, pipeline: Pipeline) -> SpanExporter:
    return span_exporter(protocol, pipeline.grpc_endpoint, pipeline.http_endpoint)


def _log_exporter(protocol: str, pipeline: Pipeline) -> LogRecordExporter:
    return log_exporter(protocol, pipeline.grpc_endpoint, pipeline.http_endpoint)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_spans_arrive_as_span_and_exception_events(pipeline: Pipeline, protocol: str) -> None:
    spans = make_spans(_span_exporter(protocol, pipeline))
    assert len(spans) == 2
    assert pipeline.ingest.events == expected_span_events(spans)
    assert pipeline.sink.dead_letters == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_logs_arrive_as_log_and_named_events(pipeline: Pipeline, protocol: str) -> None:
    emit_logs(_log_exporter(protocol, pipeline))
    assert pipeline.ingest.events == expected_log_events()


def _throttled(transport: str) -> float:
    labels = {"transport": transport, "signal": "traces", "outcome": "throttled"}
    return REGISTRY.get_sample_value("sv_otel_receiver_requests_total", labels) or 0.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_sdk_exporters_back_off_when_the_queue_is_full(loop: LoopThread, protocol: str) -> None:
    sink = RecordingSink(refusals=[QueueFullError("queue: full", retry_after=0.2)])
    transport = "grpc" if protocol == "grpc" else "http"
    before = _throttled(transport)
    with running_pipeline(loop, sink=sink) as pipeline:
        spans = make_spans(_span_exporter(protocol, pipeline))
    assert _throttled(transport) == before + 1
    assert [e.event for e in sink.events] == ["$span", "$exception"]
    assert sink.events == expected_span_events(spans)
