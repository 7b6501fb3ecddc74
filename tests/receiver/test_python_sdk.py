"""The OTel Python SDK's own OTLP exporters (gRPC, HTTP/protobuf) send to the receiver; what
reaches the sessionvision ingest server is checked event by event."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (
    OTLPLogExporter as GrpcLogExporter,
)
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http._log_exporter import (
    OTLPLogExporter as HttpLogExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import REGISTRY

from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from tests.loop_thread import LoopThread
from tests.receiver.harness import RecordingSink
from tests.receiver.pipeline import Pipeline, running_pipeline

SESSION = "0b8d3ad2-5d43-4a4f-9f1e-3c1d2b4a5e6f"
RESOURCE = Resource.create({"service.name": "checkout"})


@pytest.fixture
def pipeline(loop: LoopThread) -> Iterator[Pipeline]:
    with running_pipeline(loop) as pipeline:
        yield pipeline


def _span_exporter(protocol: str, pipeline: Pipeline) -> SpanExporter:
    if protocol == "grpc":
        return GrpcSpanExporter(endpoint=pipeline.grpc_endpoint, insecure=True)
    return HttpSpanExporter(endpoint=pipeline.http_endpoint + "/v1/traces")


def _log_exporter(protocol: str, pipeline: Pipeline) -> LogRecordExporter:
    if protocol == "grpc":
        return GrpcLogExporter(endpoint=pipeline.grpc_endpoint, insecure=True)
    return HttpLogExporter(endpoint=pipeline.http_endpoint + "/v1/logs")


def _make_spans(exporter: SpanExporter) -> list[ReadableSpan]:
    provider = TracerProvider(resource=RESOURCE)
    finished: list[ReadableSpan] = []

    class Keep(SimpleSpanProcessor):
        def on_end(self, span: ReadableSpan) -> None:
            finished.append(span)
            super().on_end(span)

    provider.add_span_processor(Keep(exporter))
    tracer = provider.get_tracer("shop")
    with tracer.start_as_current_span(
        "GET /cart",
        kind=SpanKind.SERVER,
        attributes={"session.id": SESSION, "user.id": "user_456", "http.route": "/cart"},
    ) as span:
        span.record_exception(ValueError("cart is empty"))
    with tracer.start_as_current_span("no session"):
        pass
    provider.shutdown()
    return finished


def _expected_span_events(spans: Sequence[ReadableSpan]) -> list[Event]:
    span = spans[0]
    context = span.get_span_context()
    assert context is not None and span.start_time is not None and span.end_time is not None
    ids = {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "service.name": "checkout",
    }
    [exception] = span.events
    attrs: Any = exception.attributes
    return [
        Event(
            event="$span",
            timestamp=span.start_time // 1_000_000,
            properties={
                **ids,
                "name": "GET /cart",
                "kind": "server",
                "duration_ms": (span.end_time - span.start_time) / 1e6,
                "status": "unset",
                "attributes": {"http.route": "/cart"},
            },
            user_id="user_456",
            session_id=SESSION,
        ),
        Event(
            event="$exception",
            timestamp=exception.timestamp // 1_000_000,
            properties={
                **ids,
                "type": "ValueError",
                "message": "cart is empty",
                "stacktrace": attrs["exception.stacktrace"],
            },
            user_id="user_456",
            session_id=SESSION,
        ),
    ]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sdk_spans_arrive_as_span_and_exception_events(pipeline: Pipeline, protocol: str) -> None:
    spans = _make_spans(_span_exporter(protocol, pipeline))
    assert len(spans) == 2
    assert pipeline.ingest.events == _expected_span_events(spans)
    assert pipeline.sink.dead_letters == []


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sdk_logs_arrive_as_log_and_named_events(pipeline: Pipeline, protocol: str) -> None:
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(_log_exporter(protocol, pipeline)))
    logger = provider.get_logger("shop")
    logger.emit(
        timestamp=1_709_856_000_123_456_789,
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body="payment declined",
        attributes={"session.id": SESSION, "http.route": "/pay", "card.last4": "4242"},
    )
    logger.emit(
        timestamp=1_709_856_000_200_000_000,
        event_name="checkout.completed",
        attributes={"session.id": SESSION, "amount": 49.99, "items": 3},
    )
    logger.emit(timestamp=1_709_856_000_300_000_000, body="no session here")
    provider.shutdown()
    assert pipeline.ingest.events == [
        Event(
            event="$log",
            timestamp=1_709_856_000_123,
            properties={
                "service.name": "checkout",
                "body": "payment declined",
                "severity": "ERROR",
                "severity_number": 17,
                "attributes": {"http.route": "/pay"},
            },
            session_id=SESSION,
        ),
        Event(
            event="checkout.completed",
            timestamp=1_709_856_000_200,
            properties={"amount": 49.99, "items": 3},
            session_id=SESSION,
        ),
    ]


def _throttled(transport: str) -> float:
    labels = {"transport": transport, "signal": "traces", "outcome": "throttled"}
    return REGISTRY.get_sample_value("sv_otel_receiver_requests_total", labels) or 0.0


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sdk_exporters_back_off_when_the_queue_is_full(loop: LoopThread, protocol: str) -> None:
    sink = RecordingSink(refusals=[QueueFullError("queue: full", retry_after=0.2)])
    transport = "grpc" if protocol == "grpc" else "http"
    before = _throttled(transport)
    with running_pipeline(loop, sink=sink) as pipeline:
        spans = _make_spans(_span_exporter(protocol, pipeline))
    assert _throttled(transport) == before + 1
    assert [e.event for e in sink.events] == ["$span", "$exception"]
    assert sink.events == _expected_span_events(spans)
