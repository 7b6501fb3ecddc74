"""The request bodies exporters send."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sv_otel.event import Event
from sv_otel.otlp_json import encode_json
from sv_otel.translate import encode_logs, encode_spans

__all__ = ["SIGNALS", "encode_json_request", "encode_request", "request_to_json"]

SIGNALS = ("logs", "traces")


def encode_request(events: Sequence[Event], signal: str) -> bytes:
    """The protobuf ``Export*ServiceRequest`` for ``events`` (``signal`` logs or traces)."""
    return encode_logs(events) if signal == "logs" else encode_spans(events)


def encode_json_request(events: Sequence[Event], signal: str) -> bytes:
    """The same request in OTLP/JSON."""
    return request_to_json(encode_request(events, signal), signal)


def request_to_json(request: bytes, signal: str) -> bytes:
    """A protobuf ``Export*ServiceRequest`` in OTLP/JSON."""
    if signal == "logs":
        return encode_json(ExportLogsServiceRequest.FromString(request))
    return encode_json(ExportTraceServiceRequest.FromString(request))
