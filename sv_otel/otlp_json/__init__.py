"""A spec-exact OTLP/JSON codec for every OTLP protobuf message type.

Implements the "JSON Protobuf Encoding" of the OTLP specification: the proto3 JSON mapping, with
hex ``traceId``/``spanId``/``parentSpanId``, integer enums, and unknown fields ignored. Decoding
is lenient where the OpenTelemetry Collector is (snake_case keys, enum names, the deprecated
``instrumentationLibrary*`` arrays); every problem is an :class:`~sv_otel.errors.InvalidOTLPError`
naming the JSON path::

    from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

    request = decode_json(body, ExportLogsServiceRequest)
    body = encode_json(request)
"""

from __future__ import annotations

from sv_otel.otlp_json._path import MAX_DEPTH
from sv_otel.otlp_json.decode import decode_json, decode_json_dict, decode_json_partial
from sv_otel.otlp_json.encode import encode_json, encode_json_dict

__all__ = [
    "MAX_DEPTH",
    "decode_json",
    "decode_json_dict",
    "decode_json_partial",
    "encode_json",
    "encode_json_dict",
]
