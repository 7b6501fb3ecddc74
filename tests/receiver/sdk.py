"""The OTel Python SDK's OTLP exporters and the spans and logs the receiver tests send with them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

from sv_otel.event import Event

SESSION = "0b8d3ad2-5d43-4a4f-9f1e-3c1d2b4a5e6f"
RESOURCE = Resource.create({"service.name": "checkout"})
PROTOCOLS = ("grpc", "http/protobuf")


def span_exporter(protocol: str, grpc_endpoint: str, http_endpoint: str) -> SpanExporter:
    """The SDK's OTLP span exporter for ``protocol``, to a receiver's base endpoints."""
    if protocol == "grpc":
        return GrpcSpanExporter(endpoint=grpc_endpoint, insecure=True)
    return HttpSpanExporter(endpoint=http_endpoint + "/v1/traces")


def log_exporter(protocol: str, grpc_endpoint: str, http_endpoint: str) -> LogRecordExporter:
    """The SDK's OTLP log exporter for ``protocol``, to a receiver's base endpoints."""
    if protocol == "grpc":
        return GrpcLogExporter(endpoint=grpc_endpoint, insecure=True)
    return HttpLogExporter(endpoint=http_endpoint + "/v1/logs")


def make_spans(exporter: SpanExporter, session: str = SESSION) -> list[ReadableSpan]:
    """A server span of ``session`` with an exception, and a span without a session."""
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
        attributes={"session.id": session, "user.id": "user_456", "http.route": "/cart"},
    ) as span:
        span.record_exception(ValueError("cart is empty"))
    with tracer.start_as_current_span("no session"):
        pass
    provider.shutdown()
    return finished


def expected_span_events(spans: Sequence[ReadableSpan], session: str = SESSION) -> list[Event]:
    """What :func:`make_spans`'s spans become: a ``$span`` and an ``$exception`` event."""
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
            session_id=session,
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
            session_id=session,
        ),
    ]


def emit_logs(exporter: LogRecordExporter, session: str = SESSION) -> None:
    """An error log and a named event of ``session``, and a log without a session."""
    provider = LoggerProvider(resource=RESOURCE)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("shop")
    logger.emit(
        timestamp=1_709_856_000_123_456_789,
        severity_number=SeverityNumber.ERROR,
        severity_text="ERROR",
        body="payment declined",
        attributes={"session.id": session, "http.route": "/pay", "card.last4": "4242"},
    )
    logger.emit(
        timestamp=1_709_856_000_200_000_000,
        event_name="checkout.completed",
        attributes={"session.id": session, "amount": 49.99, "items": 3},
    )
    logger.emit(timestamp=1_709_856_000_300_000_000, body="no session here")
    provider.shutdown()


def expected_log_events(session: str = SESSION) -> list[Event]:
    """What :func:`emit_logs`'s records become."""
    return [
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
            session_id=session,
        ),
        Event(
            event="checkout.completed",
            timestamp=1_709_856_000_200,
            properties={"amount": 49.99, "items": 3},
            session_id=session,
        ),
    ]
