"""Test data: the OTLP example requests of opentelemetry-proto (``examples/*.json``) and kin.

``LOGS_EXAMPLE`` and ``TRACE_EXAMPLE`` are the shape of opentelemetry-proto's
``examples/logs.json`` and ``examples/trace.json`` as a producer writes them (upper-case hex ids,
64-bit integers as JSON numbers); ``*_CANONICAL`` are what :func:`encode_json_dict` writes for the
same messages. ``logs_message``/``trace_message`` build the messages directly.
"""

from __future__ import annotations

import copy
from typing import Any

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")
PARENT_SPAN_ID = bytes.fromhex("eee19b7ec3c1b173")

_RESOURCE: dict[str, Any] = {
    "attributes": [{"key": "service.name", "value": {"stringValue": "my.service"}}]
}
_SCOPE: dict[str, Any] = {
    "name": "my.library",
    "version": "1.0.0",
    "attributes": [{"key": "my.scope.attribute", "value": {"stringValue": "some scope attribute"}}],
}

LOGS_EXAMPLE: dict[str, Any] = {
    "resourceLogs": [
        {
            "resource": _RESOURCE,
            "scopeLogs": [
                {
                    "scope": _SCOPE,
                    "logRecords": [
                        {
                            "timeUnixNano": 1544712660300000000,
                            "observedTimeUnixNano": 1544712660300000000,
                            "severityText": "Information",
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "body": {"stringValue": "Example log record"},
                            "attributes": [
                                {
                                    "key": "string.attribute",
                                    "value": {"stringValue": "some string"},
                                },
                                {"key": "boolean.attribute", "value": {"boolValue": True}},
                                {"key": "int.attribute", "value": {"intValue": 10}},
                                {"key": "double.attribute", "value": {"doubleValue": 637.704}},
                                {
                                    "key": "array.attribute",
                                    "value": {
                                        "arrayValue": {
                                            "values": [
                                                {"stringValue": "many"},
                                                {"stringValue": "values"},
                                            ]
                                        }
                                    },
                                },
                                {
                                    "key": "map.attribute",
                                    "value": {
                                        "kvlistValue": {
                                            "values": [
                                                {
                                                    "key": "some.map.key",
                                                    "value": {"stringValue": "some value"},
                                                }
                                            ]
                                        }
                                    },
                                },
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}

TRACE_EXAMPLE: dict[str, Any] = {
    "resourceSpans": [
        {
            "resource": _RESOURCE,
            "scopeSpans": [
                {
                    "scope": _SCOPE,
                    "spans": [
                        {
                            "traceId": "5B8EFFF798038103D269B633813FC60C",
                            "spanId": "EEE19B7EC3C1B174",
                            "parentSpanId": "EEE19B7EC3C1B173",
                            "name": "I'm a server span",
                            "startTimeUnixNano": 1544712660000000000,
                            "endTimeUnixNano": 1544712661000000000,
                            "kind": 2,
                            "attributes": [
                                {"key": "my.span.attr", "value": {"stringValue": "some value"}}
                            ],
                        }
                    ],
                }
            ],
        }
    ]
}


def _canonical_logs() -> dict[str, Any]:
    data = copy.deepcopy(LOGS_EXAMPLE)
    record = data["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    record["timeUnixNano"] = record["observedTimeUnixNano"] = "1544712660300000000"
    record["traceId"] = "5b8efff798038103d269b633813fc60c"
    record["spanId"] = "eee19b7ec3c1b174"
    record["attributes"][2]["value"]["intValue"] = "10"
    return data


def _canonical_trace() -> dict[str, Any]:
    data = copy.deepcopy(TRACE_EXAMPLE)
    span = data["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    span["traceId"] = "5b8efff798038103d269b633813fc60c"
    span["spanId"] = "eee19b7ec3c1b174"
    span["parentSpanId"] = "eee19b7ec3c1b173"
    span["startTimeUnixNano"] = "1544712660000000000"
    span["endTimeUnixNano"] = "1544712661000000000"
    return data


LOGS_CANONICAL = _canonical_logs()
TRACE_CANONICAL = _canonical_trace()

_RESOURCE_MSG: dict[str, Any] = {
    "attributes": [{"key": "service.name", "value": {"string_value": "my.service"}}]
}
_SCOPE_MSG: dict[str, Any] = {
    "name": "my.library",
    "version": "1.0.0",
    "attributes": [
        {"key": "my.scope.attribute", "value": {"string_value": "some scope attribute"}}
    ],
}


def logs_message() -> ExportLogsServiceRequest:
    """The message that ``LOGS_EXAMPLE`` describes, built without any JSON code."""
    record = {
        "time_unix_nano": 1544712660300000000,
        "observed_time_unix_nano": 1544712660300000000,
        "severity_text": "Information",
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "body": {"string_value": "Example log record"},
        "attributes": [
            {"key": "string.attribute", "value": {"string_value": "some string"}},
            {"key": "boolean.attribute", "value": {"bool_value": True}},
            {"key": "int.attribute", "value": {"int_value": 10}},
            {"key": "double.attribute", "value": {"double_value": 637.704}},
            {
                "key": "array.attribute",
                "value": {
                    "array_value": {
                        "values": [{"string_value": "many"}, {"string_value": "values"}]
                    }
                },
            },
            {
                "key": "map.attribute",
                "value": {
                    "kvlist_value": {
                        "values": [{"key": "some.map.key", "value": {"string_value": "some value"}}]
                    }
                },
            },
        ],
    }
    resource_logs: Any = [
        {"resource": _RESOURCE_MSG, "scope_logs": [{"scope": _SCOPE_MSG, "log_records": [record]}]}
    ]
    return ExportLogsServiceRequest(resource_logs=resource_logs)


def trace_message() -> ExportTraceServiceRequest:
    """The message that ``TRACE_EXAMPLE`` describes, built without any JSON code."""
    span = {
        "trace_id": TRACE_ID,
        "span_id": SPAN_ID,
        "parent_span_id": PARENT_SPAN_ID,
        "name": "I'm a server span",
        "start_time_unix_nano": 1544712660000000000,
        "end_time_unix_nano": 1544712661000000000,
        "kind": 2,
        "attributes": [{"key": "my.span.attr", "value": {"string_value": "some value"}}],
    }
    resource_spans: Any = [
        {"resource": _RESOURCE_MSG, "scope_spans": [{"scope": _SCOPE_MSG, "spans": [span]}]}
    ]
    return ExportTraceServiceRequest(resource_spans=resource_spans)
