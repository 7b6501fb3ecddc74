"""Tests of decoding errors: wrong JSON types, bodies that are not JSON, deep nesting."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json_dict, decode_json_partial

from ._helpers import decode_error

_BAD_KV = {"key": None, "value": {"arrayValue": {"values": [1]}}}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"resourceLogs": {}}, "resourceLogs: expected array, got object"),
        ({"resourceLogs": "x"}, "resourceLogs: expected array, got string"),
        ({"resourceLogs": ["x"]}, "resourceLogs[0]: expected object, got string"),
        ({"resourceLogs": [{}, []]}, "resourceLogs[1]: expected object, got array"),
        (
            {"resourceLogs": [{"resource": 1}]},
            "resourceLogs[0].resource: expected object, got number",
        ),
        (
            {"resourceLogs": [{"scopeLogs": [{"scope": {"name": 5}}]}]},
            "resourceLogs[0].scopeLogs[0].scope.name: expected string, got number",
        ),
        (
            {"resourceLogs": [{"scopeLogs": [{"logRecords": [{"body": {"boolValue": "true"}}]}]}]},
            "resourceLogs[0].scopeLogs[0].logRecords[0].body.boolValue: "
            "expected boolean, got string",
        ),
        (
            {"resource_logs": [{"scope_logs": [{"log_records": [{"attributes": [_BAD_KV]}]}]}]},
            "resource_logs[0].scope_logs[0].log_records[0].attributes[0]"
            ".value.arrayValue.values[0]: expected object, got number",
        ),
    ],
)
def test_wrong_json_types_are_errors(data: object, message: str) -> None:
    assert decode_error(data) == message


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body: not JSON (input data was truncated)"),
        (b"<html>", "body: not JSON (invalid character at byte 0)"),
        (b'{"resourceLogs": [}', "body: not JSON (invalid character at byte 18)"),
        (b"{} {}", "body: not JSON (trailing characters at byte 4)"),
        (b"\xff\xfe{}", "body: not JSON (invalid character at byte 0)"),
        (b'{"resourceLogs": "\xff"}', "body: not JSON (invalid UTF-8)"),
        ('{"resourceLogs": "\ud800"}', "body: not JSON (lone surrogate character at index 18)"),
        (  # msgspec itself says "input data was truncated"
            b'{"resourceLogs": "\\ud800x"}',
            "body: not JSON (unpaired UTF-16 surrogate escape \\ud800 at byte 18)",
        ),
        (b'"\\uDBFF"', "body: not JSON (unpaired UTF-16 surrogate escape \\uDBFF at byte 1)"),
        (b'{"resourceLogs": "\\\\ud800", "x": "', "body: not JSON (input data was truncated)"),
        (b"[]", "body: expected object, got array"),
        (b'"x"', "body: expected object, got string"),
        (b"null", "body: expected object, got null"),
        (b"1", "body: expected object, got number"),
        (b"[" * 100_000 + b"]" * 100_000, "body: not JSON (nested too deeply)"),
    ],
)
def test_bad_bodies_are_errors(body: bytes | str, message: str) -> None:
    assert decode_error(body) == message


def test_decode_json_dict_wants_an_object() -> None:
    not_an_object: Any = []
    with pytest.raises(InvalidOTLPError, match=r"^body: expected object, got array$"):
        decode_json_dict(not_an_object, ExportLogsServiceRequest)


def _nested(levels: int) -> dict[str, Any]:
    value: dict[str, Any] = {"stringValue": "leaf"}
    for _ in range(levels):
        value = {"arrayValue": {"values": [value]}}
    return value


def test_deep_any_value_nesting_is_capped() -> None:
    assert decode_json_dict({"body": _nested(40)}, LogRecord).HasField("body")
    message = decode_error({"body": _nested(60)}, LogRecord)
    assert message.startswith("body.arrayValue.values[0].arrayValue.values[0]")
    assert message.endswith(": nested deeper than 100 levels")
    assert len(message) < 300


def test_partial_decoding_leaves_out_only_the_records_nested_too_deep() -> None:
    records = [{"body": _nested(n)} for n in (1, 60, 2, 40, 300, 3)]
    request = {"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}
    message, left_out = decode_json_partial(json.dumps(request), ExportLogsServiceRequest)
    assert left_out == 2
    kept = message.resource_logs[0].scope_logs[0].log_records
    assert [_depth(record.body) for record in kept] == [1, 2, 40, 3]
    with pytest.raises(InvalidOTLPError, match=r"logRecords\[1\]\.body.*nested deeper than 100"):
        decode_json_dict(request, ExportLogsServiceRequest)  # the whole body, as before


def test_partial_decoding_leaves_out_spans_and_old_style_blocks_too() -> None:
    deep = [{"key": "k", "value": _nested(60)}]
    spans = [{"name": "a"}, {"name": "b", "attributes": deep}, {"name": "c"}]
    request = {"resourceSpans": [{"instrumentationLibrarySpans": [{"spans": spans}]}]}
    message, left_out = decode_json_partial(json.dumps(request), ExportTraceServiceRequest)
    assert left_out == 1
    assert [s.name for s in message.resource_spans[0].scope_spans[0].spans] == ["a", "c"]


_DEEP_ATTRIBUTES = [{"key": "k", "value": _nested(60)}]


def test_partial_decoding_leaves_out_blocks_nested_too_deep_with_their_records() -> None:
    records = [{"body": {"stringValue": str(n)}} for n in range(3)]
    request = {
        "resourceLogs": [
            {"resource": {"attributes": _DEEP_ATTRIBUTES}, "scopeLogs": [{"logRecords": records}]},
            {
                "scopeLogs": [
                    {
                        "scope": {"name": "deep", "attributes": _DEEP_ATTRIBUTES},
                        "logRecords": records,
                    },
                    {"scope": {"name": "kept"}, "logRecords": records[:1]},
                ]
            },
            {  # old style: counted only when the scopeLogs array is empty
                "resource": {"attributes": _DEEP_ATTRIBUTES},
                "scopeLogs": [],
                "instrumentationLibraryLogs": [{"logRecords": records[:2]}],
            },
        ]
    }
    message, left_out = decode_json_partial(json.dumps(request), ExportLogsServiceRequest)
    assert left_out == 3 + 3 + 2
    ((scope,),) = [[s for s in r.scope_logs] for r in message.resource_logs]
    assert (scope.scope.name, [r.body.string_value for r in scope.log_records]) == ("kept", ["0"])


def test_partial_decoding_still_refuses_other_problems_after_something_left_out() -> None:
    records = [{"body": _nested(60)}, {"body": 1}]
    request = {"resourceLogs": [{"scopeLogs": [{"logRecords": records}]}]}
    with pytest.raises(
        InvalidOTLPError,
        match=r"^resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[1\]\.body: expected object",
    ):
        decode_json_partial(json.dumps(request), ExportLogsServiceRequest)


def _depth(value: AnyValue) -> int:
    depth = 0
    while value.HasField("array_value"):
        value, depth = value.array_value.values[0], depth + 1
    return depth


def test_very_deep_json_is_an_error_not_a_crash() -> None:
    data = b'{"body":' + b'{"arrayValue":{"values":[' * 250 + b"{}" + b"]}}" * 250 + b"}"
    assert decode_error(data, LogRecord).endswith(": nested deeper than 100 levels")


def test_lone_surrogate_in_dict_input_is_andecode_error() -> None:
    with pytest.raises(InvalidOTLPError, match=r"^severityText: invalid string: lone surrogate"):
        decode_json_dict({"severityText": "\ud800"}, LogRecord)
