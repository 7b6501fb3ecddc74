"""Tests of decode_json/decode_json_dict: the specification's examples and hex ids."""

from __future__ import annotations

import copy

import msgspec
import pytest
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
from opentelemetry.proto.metrics.v1.metrics_pb2 import Exemplar
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json, decode_json_dict

from ._examples import (
    LOGS_EXAMPLE,
    PARENT_SPAN_ID,
    SPAN_ID,
    TRACE_EXAMPLE,
    TRACE_ID,
    logs_message,
    trace_message,
)
from ._helpers import RECORD_PATH, decode_error, first_record, logs_with

# --- the specification's examples -------------------------------------------------------------


def test_logs_example() -> None:
    assert decode_json(msgspec.json.encode(LOGS_EXAMPLE), ExportLogsServiceRequest) == (
        logs_message()
    )


def test_trace_example() -> None:
    assert decode_json(msgspec.json.encode(TRACE_EXAMPLE), ExportTraceServiceRequest) == (
        trace_message()
    )


def test_str_input_and_dict_input_agree() -> None:
    text = msgspec.json.encode(LOGS_EXAMPLE).decode()
    assert decode_json(text, ExportLogsServiceRequest) == logs_message()
    assert decode_json_dict(LOGS_EXAMPLE, ExportLogsServiceRequest) == logs_message()


@pytest.mark.parametrize(
    "message_type",
    [
        ExportLogsServiceRequest,
        ExportLogsServiceResponse,
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
        ExportMetricsServiceRequest,
        ExportMetricsServiceResponse,
    ],
)
def test_empty_object_is_the_empty_message(message_type: type[Message]) -> None:
    assert decode_json(b"{}", message_type) == message_type()
    assert decode_json(b" {\n} ", message_type) == message_type()


# --- trace and span ids -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        ("5B8EFFF798038103D269B633813FC60C", "EEE19B7EC3C1B174"),
        ("5b8efff798038103d269b633813fc60c", "eee19b7ec3c1b174"),
        ("5b8EFFF798038103d269B633813fc60C", "eEe19b7Ec3c1B174"),
    ],
)
def test_ids_are_hex_in_any_case(trace_id: str, span_id: str) -> None:
    record = first_record(logs_with(traceId=trace_id, spanId=span_id))
    assert record.trace_id == TRACE_ID
    assert record.span_id == SPAN_ID


def test_ids_in_every_message_that_has_them() -> None:
    ids = {"traceId": "5B8EFFF798038103D269B633813FC60C", "spanId": "EEE19B7EC3C1B174"}
    span = decode_json_dict(
        {**ids, "parentSpanId": "eee19b7ec3c1b173", "links": [ids]},
        Span,
    )
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE_ID, SPAN_ID, PARENT_SPAN_ID)
    assert (span.links[0].trace_id, span.links[0].span_id) == (TRACE_ID, SPAN_ID)
    exemplar = decode_json_dict(ids, Exemplar)
    assert (exemplar.trace_id, exemplar.span_id) == (TRACE_ID, SPAN_ID)


def test_empty_id_is_absent() -> None:
    record = first_record(logs_with(traceId="", spanId=""))
    assert record.trace_id == b""
    assert record.span_id == b""


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("traceId", "abc", 'expected 32 hex characters, got "abc"'),
        (
            "traceId",
            "5B8EFFF798038103D269B633813FC60",
            'expected 32 hex characters, got "5B8EFFF798038103D269B633813FC60"',
        ),
        (
            "traceId",
            "5B8EFFF798038103D269B633813FC60C00",
            'expected 32 hex characters, got "5B8EFFF798038103D269B633813FC60C00"',
        ),
        (
            "traceId",
            "5B8EFFF798038103D269B633813FC6ZZ",
            'expected 32 hex characters, got "5B8EFFF798038103D269B633813FC6ZZ"',
        ),
        (  # bytes.fromhex would skip the space
            "traceId",
            "5B8EFFF7 98038103D269B633813FC60",
            'expected 32 hex characters, got "5B8EFFF7 98038103D269B633813FC60"',
        ),
        (  # base64 of the right 16 bytes is still not hex
            "traceId",
            "W47/95gDgQPSabYzgT/GDA==",
            'expected 32 hex characters, got "W47/95gDgQPSabYzgT/GDA=="',
        ),
        ("traceId", "\uff10" * 32, 'expected 32 hex characters, got "' + "\\uff10" * 32 + '"'),
        ("spanId", "EEE19B7EC3C1B1", 'expected 16 hex characters, got "EEE19B7EC3C1B1"'),
        ("spanId", "EEE19B7EC3C1B17G", 'expected 16 hex characters, got "EEE19B7EC3C1B17G"'),
        ("spanId", 1234, "expected string, got number"),
        ("traceId", ["5B8EFFF798038103D269B633813FC60C"], "expected string, got array"),
    ],
)
def test_malformed_ids_are_errors(key: str, value: object, problem: str) -> None:
    assert decode_error(logs_with(**{key: value})) == f"{RECORD_PATH}.{key}: {problem}"


def test_malformed_id_error_names_thefirst_record() -> None:
    data = logs_with()
    records = data["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records.extend(copy.deepcopy(records[0]) for _ in range(3))
    records[3]["traceId"] = "abc"
    assert decode_error(data) == (
        'resourceLogs[0].scopeLogs[0].logRecords[3].traceId: expected 32 hex characters, got "abc"'
    )


def test_malformed_parent_span_id_is_andecode_error() -> None:
    data = copy.deepcopy(TRACE_EXAMPLE)
    data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["parentSpanId"] = "xyz"
    assert decode_error(data, ExportTraceServiceRequest) == (
        "resourceSpans[0].scopeSpans[0].spans[0].parentSpanId: "
        'expected 16 hex characters, got "xyz"'
    )


def test_long_bad_ids_are_shortened_in_the_message() -> None:
    problem = decode_error(logs_with(traceId="a" * 1000)).split(": ", 1)[1]
    assert problem == 'expected 32 hex characters, got "' + "a" * 48 + '..."'


@pytest.mark.parametrize(
    "bad", ["abc", "5B8EFFF798038103D269B633813FC6ZZ", "W47/95gDgQPSabYzgT/GDA=="]
)
def test_lenient_ids_decode_malformed_as_absent(bad: str) -> None:
    record = first_record(logs_with(traceId=bad, spanId="EEE19B7EC3C1B174"), strict_ids=False)
    assert record.trace_id == b""
    assert record.span_id == SPAN_ID
    assert record.body.string_value == "Example log record"
    data = msgspec.json.encode(logs_with(traceId=bad))
    assert decode_json(data, ExportLogsServiceRequest, strict_ids=False).resource_logs


def test_lenient_ids_still_reject_wrong_json_types() -> None:
    with pytest.raises(InvalidOTLPError, match=r"traceId: expected string, got number"):
        decode_json_dict(logs_with(traceId=5), ExportLogsServiceRequest, strict_ids=False)
