"""The three OTLP signals as one table: paths, gRPC services, message types, translators.

Both transports dispatch through :data:`SIGNALS` (by URL path) or :data:`BY_SERVICE` (by gRPC
service), so adding a signal is one row here, never an ``if`` in an adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from sv_otel.event import Event
from sv_otel.translate import TranslationStats, logs_to_events, spans_to_events

__all__ = ["BY_PATH", "BY_SERVICE", "LOGS", "METRICS", "SIGNALS", "TRACES", "Signal", "Translator"]

Translator = Callable[[bytes, TranslationStats], list[Event]]
"""Protobuf request bytes to events, counting what happened in the stats."""


def _logs(data: bytes, stats: TranslationStats) -> list[Event]:
    return logs_to_events(data, stats=stats)


def _spans(data: bytes, stats: TranslationStats) -> list[Event]:
    return spans_to_events(data, stats=stats)


@dataclass(frozen=True, slots=True)
class Signal:
    """One OTLP signal.

    Attributes:
        name: ``logs``, ``traces`` or ``metrics`` (the metrics label).
        path: the OTLP/HTTP default path.
        service: the full gRPC service name (its one method is ``Export``).
        request_type: the ``Export*ServiceRequest`` message class.
        response_type: the ``Export*ServiceResponse`` message class.
        rejected_field: the partial-success counter, e.g. ``rejected_log_records``.
        noun: what one record is called in messages, e.g. ``log record``.
        translate: the translator to events, or None when the signal is not converted.
    """

    name: str
    path: str
    service: str
    request_type: type[Message]
    response_type: type[Message]
    rejected_field: str
    noun: str
    translate: Translator | None

    def count(self, number: int) -> str:
        """``number`` records in words: ``1 log record``, ``2 log records``."""
        return f"{number} {self.noun}" if number == 1 else f"{number} {self.noun}s"


LOGS: Final = Signal(
    name="logs",
    path="/v1/logs",
    service="opentelemetry.proto.collector.logs.v1.LogsService",
    request_type=ExportLogsServiceRequest,
    response_type=ExportLogsServiceResponse,
    rejected_field="rejected_log_records",
    noun="log record",
    translate=_logs,
)
TRACES: Final = Signal(
    name="traces",
    path="/v1/traces",
    service="opentelemetry.proto.collector.trace.v1.TraceService",
    request_type=ExportTraceServiceRequest,
    response_type=ExportTraceServiceResponse,
    rejected_field="rejected_spans",
    noun="span",
    translate=_spans,
)
METRICS: Final = Signal(
    name="metrics",
    path="/v1/metrics",
    service="opentelemetry.proto.collector.metrics.v1.MetricsService",
    request_type=ExportMetricsServiceRequest,
    response_type=ExportMetricsServiceResponse,
    rejected_field="rejected_data_points",
    noun="data point",
    translate=None,
)

SIGNALS: Final = (LOGS, TRACES, METRICS)
BY_PATH: Final = {signal.path: signal for signal in SIGNALS}
BY_SERVICE: Final = {signal.service: signal for signal in SIGNALS}
