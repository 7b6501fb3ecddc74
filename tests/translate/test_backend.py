"""Backend telemetry made by the real OTel SDK and encoded by the official OTLP encoders."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as otel_encode_logs
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as otel_encode_spans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode

from sv_otel import TranslationStats, logs_to_events, spans_to_events

RESOURCE = Resource.create({"service.name": "checkout"})
SESSION = "sess-1"


@pytest.fixture
def tracing() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=RESOURCE)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def logging_() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def test_backend_span_becomes_a_span_event(
    tracing: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = tracing
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span(
        "GET /cart",
        kind=SpanKind.SERVER,
        attributes={
            "session.id": SESSION,
            "user.id": "u1",
            "http.request.method": "GET",
            "http.route": "/cart",
            "http.response.status_code": 500,
            "http.request.header.authorization": ("Bearer secret",),
        },
    ) as span:
        span.set_status(Status(StatusCode.ERROR, "boom"))
        try:
            raise ValueError("bad cart")
        except ValueError as error:
            span.record_exception(error)
    (finished,) = exporter.get_finished_spans()
    request = otel_encode_spans([finished])
    stats = TranslationStats()
    events = spans_to_events(request, stats=stats)
    assert [e.event for e in events] == ["$span", "$exception"]
    span_event, exception = events
    context = finished.get_span_context()
    assert context is not None
    assert span_event.session_id == SESSION
    assert span_event.user_id == "u1"
    assert finished.start_time is not None and finished.end_time is not None
    assert span_event.timestamp == finished.start_time // 10**6
    assert span_event.properties == {
        "trace_id": f"{context.trace_id:032x}",
        "span_id": f"{context.span_id:016x}",
        "service.name": "checkout",
        "name": "GET /cart",
        "kind": "server",
        "duration_ms": (finished.end_time - finished.start_time) / 1e6,
        "status": "error",
        "status_message": "boom",
        "attributes": {
            "http.request.method": "GET",
            "http.route": "/cart",
            "http.response.status_code": 500,
        },
    }
    assert exception.properties["type"] == "ValueError"
    assert exception.properties["message"] == "bad cart"
    assert "Traceback" in exception.properties["stacktrace"]
    assert exception.properties["trace_id"] == f"{context.trace_id:032x}"
    assert stats.converted == 2


def test_spans_without_session_are_skipped_and_counted(
    tracing: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = tracing
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("no session"):
        pass
    with tracer.start_as_current_span("has session", attributes={"session.id": SESSION}):
        pass
    stats = TranslationStats()
    events = spans_to_events(otel_encode_spans(exporter.get_finished_spans()), stats=stats)
    assert [e.properties["name"] for e in events] == ["has session"]
    assert (stats.converted, stats.skipped, stats.rejected) == (1, 1, 0)


def test_session_id_on_the_resource_counts(
    tracing: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider = TracerProvider(resource=Resource.create({"session.id": "from-resource"}))
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("app").start_as_current_span("s"):
        pass
    events = spans_to_events(otel_encode_spans(exporter.get_finished_spans()))
    assert [e.session_id for e in events] == ["from-resource"]


def test_backend_logs_become_log_exception_and_named_events(
    logging_: tuple[LoggerProvider, InMemoryLogRecordExporter],
) -> None:
    provider, exporter = logging_
    logger = provider.get_logger("app")
    logger.emit(
        body={"msg": "payment declined", "code": 42},
        severity_number=SeverityNumber.WARN,
        severity_text="WARN",
        attributes={"session.id": SESSION, "log.logger": "pay", "secret": "x"},
    )
    logger.emit(
        body="failed",
        severity_number=SeverityNumber.ERROR,
        attributes={"session.id": SESSION, "exception.type": "KeyError", "exception.message": "k"},
    )
    logger.emit(event_name="cart.updated", attributes={"session.id": SESSION, "items": 3})
    logger.emit(body="nobody's session", attributes={"x": 1})
    stats = TranslationStats()
    events = logs_to_events(otel_encode_logs(exporter.get_finished_logs()), stats=stats)
    assert [e.event for e in events] == ["$log", "$exception", "cart.updated"]
    log, exception, named = events
    assert {k: v for k, v in log.properties.items() if k != "trace_id" and k != "span_id"} == {
        "service.name": "checkout",
        "body": {"msg": "payment declined", "code": 42},
        "severity": "WARN",
        "severity_number": 13,
        "attributes": {"log.logger": "pay"},
    }
    assert exception.properties == {"service.name": "checkout", "type": "KeyError", "message": "k"}
    assert named.properties == {"items": 3}
    assert (stats.converted, stats.skipped) == (3, 1)


def test_log_without_any_time_is_rejected_with_a_reason() -> None:
    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

    record = LogRecord(attributes=[KeyValue(key="session.id", value=AnyValue(string_value="s"))])
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[record])])]
    )
    stats = TranslationStats()
    assert logs_to_events(request, stats=stats) == []
    assert stats.rejected == 1
    assert stats.messages == [
        "log record: neither time_unix_nano nor observed_time_unix_nano is set"
    ]
