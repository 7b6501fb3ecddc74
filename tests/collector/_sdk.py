"""Send telemetry into a Collector the way applications do: the OTel Python SDK's OTLP exporters,
and sv_otel's own encoding of events (what `sv-otel serve` forwards)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import grpc
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from sv_otel.event import Event
from sv_otel.translate import encode_logs

_FLUSH_MILLIS = 30_000
_EXPORT_LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"


def _raw(data: bytes) -> bytes:
    return data


def export_events(grpc_endpoint: str, events: Sequence[Event]) -> None:
    """Send ``events`` as sv_otel writes them (one OTLP logs request) and wait for the answer.

    This is what ``sv-otel serve`` sends a Collector; the call returns once the Collector has
    acknowledged the request.

    Raises:
        grpc.RpcError: the Collector refused it.
    """
    with grpc.insecure_channel(grpc_endpoint) as channel:
        export = channel.unary_unary(_EXPORT_LOGS, _raw, _raw)
        export(encode_logs(events), timeout=30)


def emit_logs(
    grpc_endpoint: str,
    records: Iterable[tuple[str, Mapping[str, str]]],
    *,
    resource: Mapping[str, str] | None = None,
) -> None:
    """Emit one log record per ``(event_name, attributes)`` and export them over OTLP/gRPC.

    Returns once the SDK's exporter has had every record acknowledged by the Collector.

    Raises:
        AssertionError: when the SDK could not export them all.
    """
    exporter = OTLPLogExporter(endpoint=f"http://{grpc_endpoint}", insecure=True, timeout=10)
    provider = LoggerProvider(resource=Resource.create({"service.name": "web", **(resource or {})}))
    provider.add_log_record_processor(BatchLogRecordProcessor(exporter))
    logger = provider.get_logger("sessionvision")
    try:
        for event_name, attributes in records:
            logger.emit(event_name=event_name, body=event_name, attributes=dict(attributes))
        assert provider.force_flush(_FLUSH_MILLIS), "the SDK could not flush its log records"
    finally:
        provider.shutdown()


def emit_spans(grpc_endpoint: str, spans: Iterable[tuple[str, Mapping[str, str]]]) -> None:
    """Record one span per ``(name, attributes)`` and export them over OTLP/gRPC."""
    exporter = OTLPSpanExporter(endpoint=f"http://{grpc_endpoint}", insecure=True, timeout=10)
    provider = TracerProvider(resource=Resource.create({"service.name": "checkout"}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    tracer = provider.get_tracer("checkout")
    try:
        for name, attributes in spans:
            with tracer.start_as_current_span(name, attributes=dict(attributes)):
                pass
        assert provider.force_flush(_FLUSH_MILLIS), "the SDK could not flush its spans"
    finally:
        provider.shutdown()
