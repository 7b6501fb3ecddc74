"""Pure translation between sessionvision events and OTLP logs and traces (no I/O)."""

from sv_otel.translate._envelope import count_records
from sv_otel.translate.logs import (
    encode_log_records,
    encode_logs,
    events_to_logs,
    log_records_request,
)
from sv_otel.translate.logs_reader import logs_to_events
from sv_otel.translate.spans import encode_spans, events_to_spans, spans_to_events
from sv_otel.translate.stats import TranslationStats

__all__ = [
    "TranslationStats",
    "count_records",
    "encode_log_records",
    "encode_logs",
    "encode_spans",
    "events_to_logs",
    "events_to_spans",
    "log_records_request",
    "logs_to_events",
    "spans_to_events",
]
