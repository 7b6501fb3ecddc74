"""Tests of what decoding accepts like the Collector: snake_case, unknown fields, old arrays."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint

from sv_otel.otlp_json import decode_json, decode_json_dict

from ._examples import (
    LOGS_EXAMPLE,
    TRACE_EXAMPLE,
    TRACE_ID,
    logs_message,
    trace_message,
)
from ._helpers import decode_error, first_record, logs_with


def _snake(data: object) -> object:
    """Rename every camelCase key of a JSON value to snake_case."""
    if isinstance(data, dict):
        return {
            "".join("_" + c.lower() if c.isupper() else c for c in key): _snake(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [_snake(item) for item in data]
    return data


def test_snake_case_keys_are_accepted() -> None:
    snake = _snake(LOGS_EXAMPLE)
    assert isinstance(snake, dict)
    assert "resource_logs" in snake
    assert decode_json_dict(snake, ExportLogsServiceRequest) == logs_message()
    trace = _snake(TRACE_EXAMPLE)
    assert isinstance(trace, dict)
    assert decode_json_dict(trace, ExportTraceServiceRequest) == trace_message()


def _add_unknown(data: object) -> object:
    """Add unknown fields of every JSON type to every object of a JSON value."""
    if isinstance(data, dict):
        out = {key: _add_unknown(value) for key, value in data.items()}
        out.update(
            futureField={"nested": [1, {"x": None}]},
            future_list=[1, "2", None],
            futureString="x",
            futureNumber=1.5,
            futureNull=None,
        )
        return out
    if isinstance(data, list):
        return [_add_unknown(item) for item in data]
    return data


def test_unknown_fields_are_ignored_at_every_level() -> None:
    data = _add_unknown(LOGS_EXAMPLE)
    assert isinstance(data, dict)
    assert decode_json_dict(data, ExportLogsServiceRequest) == logs_message()
    body = msgspec.json.encode(_add_unknown(TRACE_EXAMPLE))
    assert decode_json(body, ExportTraceServiceRequest) == trace_message()


@pytest.mark.parametrize("key", ["body", "attributes", "traceId", "timeUnixNano", "severityText"])
def test_null_means_not_set(key: str) -> None:
    assert first_record(logs_with(**{key: None})) == first_record(logs_with(**{key: ...}))


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"severityText": "x", "severity_text": None}, LogRecord()),
        ({"severity_text": None, "severityText": "x"}, LogRecord(severity_text="x")),
        ({"timeUnixNano": "5", "time_unix_nano": None}, LogRecord()),
        ({"droppedAttributesCount": 1, "dropped_attributes_count": None}, LogRecord()),
    ],
)
def test_a_later_null_unsets_an_earlier_spelling_of_the_field(
    data: dict[str, object], expected: LogRecord
) -> None:
    # Of a key given twice (camelCase and snake_case), the last wins, null included.
    assert decode_json_dict(data, LogRecord) == expected
    request: dict[str, object] = {"resourceLogs": [{"scopeLogs": [{}]}], "resource_logs": None}
    assert decode_json_dict(request, ExportLogsServiceRequest) == ExportLogsServiceRequest()


def test_null_message_and_list_fields() -> None:
    data = {"resourceLogs": [{"resource": None, "scopeLogs": None, "schemaUrl": None}]}
    request = decode_json_dict(data, ExportLogsServiceRequest)
    assert not request.resource_logs[0].HasField("resource")


def test_empty_objects_set_messages() -> None:
    record = first_record(logs_with(body={}))
    assert record.HasField("body")
    assert record.body.WhichOneof("value") is None


@pytest.mark.parametrize(
    ("value", "which"),
    [
        ({"stringValue": "a", "intValue": 5}, "int_value"),
        ({"intValue": 5, "stringValue": "a"}, "string_value"),
        ({"intValue": 5, "stringValue": "a", "int_value": 6}, "int_value"),
        ({"intValue": 5, "stringValue": "a", "int_value": None}, "string_value"),
        ({"boolValue": False, "kvlistValue": {}}, "kvlist_value"),
        ({"boolValue": False}, "bool_value"),
        ({"intValue": "0"}, "int_value"),
        ({"stringValue": ""}, "string_value"),
    ],
)
def test_oneof_last_member_wins(value: dict[str, object], which: str) -> None:
    assert decode_json_dict(value, AnyValue).WhichOneof("value") == which


def test_optional_fields_keep_presence() -> None:
    point = decode_json_dict({"sum": 0, "min": 0.0}, HistogramDataPoint)
    assert point.HasField("sum")
    assert point.HasField("min")
    assert not point.HasField("max")


# --- deprecated instrumentationLibrary* arrays ------------------------------------------------


def _double_published() -> dict[str, Any]:
    """The trace example with its spans also in the deprecated array, as old senders MAY do."""
    data = copy.deepcopy(TRACE_EXAMPLE)
    resource_spans = data["resourceSpans"][0]
    old = copy.deepcopy(resource_spans["scopeSpans"])
    old[0]["instrumentationLibrary"] = old[0].pop("scope")
    # The deprecated key comes first in the JSON; the order of the keys does not matter.
    data["resourceSpans"][0] = {"instrumentationLibrarySpans": old, **resource_spans}
    return data


def test_instrumentation_library_spans_are_ignored_when_scope_spans_are_set() -> None:
    # opentelemetry-proto: "If scope_spans is set then instrumentation_library_spans field
    # SHOULD be ignored" (double-publishing senders carry the same spans in both).
    request = decode_json_dict(_double_published(), ExportTraceServiceRequest)
    assert request == trace_message()
    body = msgspec.json.encode(_double_published())
    assert decode_json(body, ExportTraceServiceRequest) == trace_message()


def test_instrumentation_library_spans_are_used_when_scope_spans_are_empty() -> None:
    data = _double_published()
    data["resourceSpans"][0]["scopeSpans"] = []
    request = decode_json_dict(data, ExportTraceServiceRequest)
    assert request == trace_message()
    data["resourceSpans"][0]["scopeSpans"] = None
    assert decode_json_dict(data, ExportTraceServiceRequest) == trace_message()


def test_ignored_instrumentation_library_spans_are_still_checked() -> None:
    data = _double_published()
    data["resourceSpans"][0]["instrumentationLibrarySpans"][0]["spans"][0]["spanId"] = "x"
    assert decode_error(data, ExportTraceServiceRequest) == (
        "resourceSpans[0].instrumentationLibrarySpans[0].spans[0].spanId: "
        'expected 16 hex characters, got "x"'
    )


def test_old_library_keys_in_the_deprecated_array() -> None:
    data = copy.deepcopy(TRACE_EXAMPLE)
    data["resourceSpans"][0] = {
        "instrumentationLibrarySpans": [
            {
                "instrumentationLibrary": {"name": "old.library", "version": "0.1"},
                "spans": [{"traceId": "5B8EFFF798038103D269B633813FC60C", "name": "old span"}],
                "schemaUrl": "https://opentelemetry.io/schemas/1.4.0",
            }
        ]
    }
    scope_spans = decode_json_dict(data, ExportTraceServiceRequest).resource_spans[0].scope_spans
    assert len(scope_spans) == 1
    assert scope_spans[0].scope.name == "old.library"
    assert scope_spans[0].scope.version == "0.1"
    assert scope_spans[0].schema_url == "https://opentelemetry.io/schemas/1.4.0"
    assert scope_spans[0].spans[0].name == "old span"
    assert scope_spans[0].spans[0].trace_id == TRACE_ID


@pytest.mark.parametrize(
    ("message_type", "outer", "old", "items", "new"),
    [
        (
            ExportLogsServiceRequest,
            "resourceLogs",
            "instrumentationLibraryLogs",
            "logRecords",
            "scope_logs",
        ),
        (
            ExportTraceServiceRequest,
            "resourceSpans",
            "instrumentationLibrarySpans",
            "spans",
            "scope_spans",
        ),
        (
            ExportMetricsServiceRequest,
            "resourceMetrics",
            "instrumentationLibraryMetrics",
            "metrics",
            "scope_metrics",
        ),
        (
            ExportLogsServiceRequest,
            "resource_logs",
            "instrumentation_library_logs",
            "log_records",
            "scope_logs",
        ),
    ],
)
def test_instrumentation_library_arrays_alone(
    message_type: type[Message], outer: str, old: str, items: str, new: str
) -> None:
    library_key = "instrumentation_library" if "_" in old else "instrumentationLibrary"
    data = {outer: [{old: [{library_key: {"name": "lib"}, items: [{}, {}]}]}]}
    request = decode_json_dict(data, message_type)
    scopes = getattr(request.ListFields()[0][1][0], new)
    assert len(scopes) == 1
    assert scopes[0].scope.name == "lib"
    assert len(getattr(scopes[0], scopes[0].DESCRIPTOR.fields[1].name)) == 2


def test_bad_instrumentation_library_array_names_the_path() -> None:
    data = {"resourceLogs": [{"instrumentationLibraryLogs": [{"logRecords": [{"spanId": "x"}]}]}]}
    assert decode_error(data) == (
        "resourceLogs[0].instrumentationLibraryLogs[0].logRecords[0].spanId: "
        'expected 16 hex characters, got "x"'
    )
