"""Tests of encoding scalar fields: hex ids, base64 bytes, 64-bit integers and doubles."""

from __future__ import annotations

import math

import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Exemplar,
    HistogramDataPoint,
    NumberDataPoint,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json, encode_json, encode_json_dict

from ._examples import PARENT_SPAN_ID, SPAN_ID, TRACE_ID


def test_ids_are_lower_case_hex_in_every_message() -> None:
    span = Span(
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        parent_span_id=PARENT_SPAN_ID,
        links=[Span.Link(trace_id=TRACE_ID, span_id=SPAN_ID)],
    )
    assert encode_json_dict(span) == {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "parentSpanId": "eee19b7ec3c1b173",
        "links": [{"traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174"}],
    }
    assert encode_json_dict(Exemplar(trace_id=TRACE_ID, span_id=SPAN_ID, as_int=3)) == {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "asInt": "3",
    }


@pytest.mark.parametrize(
    ("message", "message_text"),
    [
        (Span(trace_id=b"abc"), "traceId: expected 16 bytes, got 3"),
        (Span(span_id=SPAN_ID + b"\x00"), "spanId: expected 8 bytes, got 9"),
        (Span(parent_span_id=TRACE_ID), "parentSpanId: expected 8 bytes, got 16"),
        (
            ExportTraceServiceRequest(
                resource_spans=[
                    ResourceSpans(
                        scope_spans=[
                            ScopeSpans(spans=[Span(), Span(links=[Span.Link(span_id=b"x")])])
                        ]
                    )
                ]
            ),
            "resourceSpans[0].scopeSpans[0].spans[1].links[0].spanId: expected 8 bytes, got 1",
        ),
        (LogRecord(trace_id=TRACE_ID * 2), "traceId: expected 16 bytes, got 32"),
    ],
)
def test_ids_of_the_wrong_length_are_errors(message: Message, message_text: str) -> None:
    # Written as hex they would be JSON that no OTLP receiver (nor decode_json) accepts.
    with pytest.raises(InvalidOTLPError) as caught:
        encode_json(message)
    assert caught.value.message == message_text


def test_other_bytes_are_base64() -> None:
    assert encode_json_dict(AnyValue(bytes_value=b"hi?>>>")) == {"bytesValue": "aGk/Pj4+"}


def test_repeated_scalars() -> None:
    point = HistogramDataPoint(bucket_counts=[0, 1, 2**64 - 1], explicit_bounds=[0.5, math.inf])
    assert encode_json_dict(point) == {
        "bucketCounts": ["0", "1", "18446744073709551615"],
        "explicitBounds": [0.5, "Infinity"],
    }
    assert decode_json(encode_json(point), HistogramDataPoint) == point


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.inf, "Infinity"), (-math.inf, "-Infinity"), (1.5, 1.5), (-0.0, -0.0)],
)
def test_doubles(value: float, expected: object) -> None:
    point = NumberDataPoint(as_double=value)
    assert encode_json_dict(point) == {"asDouble": expected}
    assert decode_json(encode_json(point), NumberDataPoint) == point


def test_nan() -> None:
    point = NumberDataPoint(as_double=math.nan)
    assert encode_json(point) == b'{"asDouble":"NaN"}'
    assert math.isnan(decode_json(encode_json(point), NumberDataPoint).as_double)
