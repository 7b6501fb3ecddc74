"""Building OTLP requests for the receiver tests with the official opentelemetry-proto classes."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import (
    LogRecord,
    ResourceLogs,
    ScopeLogs,
    SeverityNumber,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

SESSION = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
TIME_NS = 1_709_856_000_123_000_000


def attributes(**values: Any) -> list[KeyValue]:
    """``KeyValue`` list from keyword arguments; ``session_id`` is spelled ``session.id``."""
    out = []
    for key, value in values.items():
        key = {"session_id": "session.id", "user_id": "user.id"}.get(key, key)
        if isinstance(value, bool):
            any_value = AnyValue(bool_value=value)
        elif isinstance(value, int):
            any_value = AnyValue(int_value=value)
        elif isinstance(value, float):
            any_value = AnyValue(double_value=value)
        else:
            any_value = AnyValue(string_value=str(value))
        out.append(KeyValue(key=key, value=any_value))
    return out


def log_record(body: str = "payment failed", **attrs: Any) -> LogRecord:
    """A backend log record with ids, severity and ``attrs`` (``session_id=SESSION`` default)."""
    attrs.setdefault("session_id", SESSION)
    return LogRecord(
        time_unix_nano=TIME_NS,
        severity_number=SeverityNumber.SEVERITY_NUMBER_ERROR,
        severity_text="ERROR",
        body=AnyValue(string_value=body),
        attributes=attributes(**{k: v for k, v in attrs.items() if v is not None}),
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
    )


def logs_request(*records: LogRecord, service: str = "checkout") -> ExportLogsServiceRequest:
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=Resource(attributes=attributes(**{"service.name": service})),
                scope_logs=[ScopeLogs(scope=InstrumentationScope(name="app"), log_records=records)],
            )
        ]
    )


def span(name: str = "GET /cart", **attrs: Any) -> Span:
    attrs.setdefault("session_id", SESSION)
    return Span(
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        name=name,
        kind=Span.SPAN_KIND_SERVER,
        start_time_unix_nano=TIME_NS,
        end_time_unix_nano=TIME_NS + 2_500_000,
        attributes=attributes(**{k: v for k, v in attrs.items() if v is not None}),
    )


def traces_request(*spans: Span, service: str = "checkout") -> ExportTraceServiceRequest:
    return ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=attributes(**{"service.name": service})),
                scope_spans=[ScopeSpans(scope=InstrumentationScope(name="app"), spans=spans)],
            )
        ]
    )


def metrics_request(points: int = 3) -> ExportMetricsServiceRequest:
    gauge = Gauge(
        data_points=[NumberDataPoint(time_unix_nano=TIME_NS, as_int=i) for i in range(points)]
    )
    return ExportMetricsServiceRequest(
        resource_metrics=[
            ResourceMetrics(
                scope_metrics=[ScopeMetrics(metrics=[Metric(name="queue.depth", gauge=gauge)])]
            )
        ]
    )
