"""Tests of encode_json/encode_json_dict: the output rules of the OTLP JSON encoding."""

from __future__ import annotations

import msgspec
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, SeverityNumber
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    HistogramDataPoint,
    SummaryDataPoint,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json, decode_json_dict, encode_json, encode_json_dict

from ._examples import (
    LOGS_CANONICAL,
    SPAN_ID,
    TRACE_CANONICAL,
    TRACE_ID,
    logs_message,
    trace_message,
)


def test_logs_example() -> None:
    assert encode_json_dict(logs_message()) == LOGS_CANONICAL
    assert msgspec.json.decode(encode_json(logs_message())) == LOGS_CANONICAL


def test_trace_example() -> None:
    assert encode_json_dict(trace_message()) == TRACE_CANONICAL


def test_output_is_compact_utf8_with_keys_in_field_number_order() -> None:
    record = LogRecord(
        observed_time_unix_nano=2,
        time_unix_nano=1,
        severity_text="Información",
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
    )
    assert (
        encode_json(record)
        == (
            '{"timeUnixNano":"1","severityText":"Información",'
            '"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",'
            '"observedTimeUnixNano":"2"}'
        ).encode()
    )


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (AnyValue(), {}),
        (AnyValue(bool_value=False), {"boolValue": False}),
        (AnyValue(int_value=0), {"intValue": "0"}),
        (AnyValue(double_value=0.0), {"doubleValue": 0.0}),
        (AnyValue(string_value=""), {"stringValue": ""}),
        (AnyValue(bytes_value=b""), {"bytesValue": ""}),
        (AnyValue(array_value=ArrayValue()), {"arrayValue": {}}),
        (AnyValue(kvlist_value=KeyValueList()), {"kvlistValue": {}}),
        (AnyValue(int_value=-(2**63)), {"intValue": "-9223372036854775808"}),
        (KeyValue(key="k"), {"key": "k"}),
        (KeyValue(key="k", value=AnyValue()), {"key": "k", "value": {}}),
    ],
)
def test_oneof_members_are_kept_even_at_their_default(
    message: Message, expected: dict[str, object]
) -> None:
    assert encode_json_dict(message) == expected
    assert decode_json(encode_json(message), type(message)) == message


def test_defaults_are_left_out() -> None:
    record = LogRecord(
        time_unix_nano=0,
        severity_number=SeverityNumber.SEVERITY_NUMBER_UNSPECIFIED,
        severity_text="",
        trace_id=b"",
        flags=0,
        attributes=[],
    )
    assert encode_json_dict(record) == {}
    assert encode_json(LogRecord()) == b"{}"
    assert encode_json_dict(ExportLogsServiceRequest()) == {}


def test_set_empty_messages_are_kept() -> None:
    assert encode_json_dict(LogRecord(body=AnyValue())) == {"body": {}}
    response = ExportLogsServiceResponse(partial_success=ExportLogsPartialSuccess())
    assert encode_json_dict(response) == {"partialSuccess": {}}


def test_partial_success_response() -> None:
    response = ExportLogsServiceResponse(
        partial_success=ExportLogsPartialSuccess(rejected_log_records=3, error_message="bad")
    )
    assert encode_json_dict(response) == {
        "partialSuccess": {"rejectedLogRecords": "3", "errorMessage": "bad"}
    }


def test_enums_are_integers() -> None:
    span = Span(kind=Span.SPAN_KIND_CLIENT, status=Status(code=Status.STATUS_CODE_ERROR))
    assert encode_json_dict(span) == {"kind": 3, "status": {"code": 2}}
    record = LogRecord(severity_number=SeverityNumber.SEVERITY_NUMBER_FATAL4)
    assert encode_json_dict(record) == {"severityNumber": 24}


def test_unknown_enum_numbers_survive() -> None:
    record = LogRecord(severity_number=SeverityNumber.ValueType(99))
    assert encode_json_dict(record) == {"severityNumber": 99}
    assert decode_json(encode_json(record), LogRecord) == record


def test_optional_fields_are_kept_when_set() -> None:
    assert encode_json_dict(HistogramDataPoint(count=1)) == {"count": "1"}
    assert encode_json_dict(HistogramDataPoint(sum=0.0, min=0.0)) == {"sum": 0.0, "min": 0.0}


def test_negative_zero_is_not_the_default() -> None:
    # upb treats -0.0 in a field without presence as set; so does the JSON encoding.
    point = SummaryDataPoint(sum=-0.0)
    assert encode_json(point) == b'{"sum":-0.0}'
    assert decode_json(encode_json(point), SummaryDataPoint) == point
    assert encode_json(SummaryDataPoint(sum=0.0)) == b"{}"


def test_bool_false_and_int_zero_survive_a_round_trip() -> None:
    record = LogRecord(
        attributes=[
            KeyValue(key="false", value=AnyValue(bool_value=False)),
            KeyValue(key="zero", value=AnyValue(int_value=0)),
            KeyValue(key="empty", value=AnyValue(string_value="")),
        ]
    )
    decoded = decode_json(encode_json(record), LogRecord)
    assert decoded == record
    assert [kv.value.WhichOneof("value") for kv in decoded.attributes] == [
        "bool_value",
        "int_value",
        "string_value",
    ]


@pytest.mark.parametrize(
    "message",
    [
        logs_message(),
        trace_message(),
        ExportTraceServiceRequest(),
        Span(name="x", status=Status(message="m")),
    ],
)
def test_dict_and_bytes_round_trip(message: Message) -> None:
    assert decode_json_dict(encode_json_dict(message), type(message)) == message
    assert decode_json(encode_json(message), type(message)) == message


def _deep_record(levels: int) -> LogRecord:
    record = LogRecord()
    value = record.body
    for _ in range(levels):  # built in place: copying would hit upb's own depth limit
        value = value.array_value.values.add()
    value.string_value = "leaf"
    return record


def test_deep_messages_are_capped() -> None:
    assert encode_json_dict(_deep_record(40))
    with pytest.raises(InvalidOTLPError, match=r": nested deeper than 100 levels$"):
        encode_json(_deep_record(200))


def test_agrees_with_json_format_without_ids() -> None:
    message = logs_message()
    for record in message.resource_logs[0].scope_logs[0].log_records:
        record.ClearField("trace_id")
        record.ClearField("span_id")
    expected = json_format.MessageToDict(message, use_integers_for_enums=True)
    assert encode_json_dict(message) == expected
