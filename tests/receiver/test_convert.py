"""The receiver's conversion core: both encodings, the skip/reject policy, partial success."""

from __future__ import annotations

import json

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

import sv_otel
from sv_otel.errors import InvalidOTLPError
from sv_otel.event import Event
from sv_otel.otlp_json import encode_json
from sv_otel.receiver.convert import MAX_MESSAGE_CHARS, convert_request, encode_response
from sv_otel.receiver.signals import LOGS, METRICS, TRACES, Signal
from tests.helpers import event_json
from tests.receiver.otlp import (
    SESSION,
    TIME_NS,
    log_record,
    logs_request,
    metrics_request,
    span,
    traces_request,
)

LOG_EVENT = Event(
    event="$log",
    timestamp=TIME_NS // 1_000_000,
    properties={
        "trace_id": "5b8efff798038103d269b633813fc60c",
        "span_id": "eee19b7ec3c1b174",
        "service.name": "checkout",
        "body": "payment failed",
        "severity": "ERROR",
        "severity_number": 17,
        "attributes": {},
    },
    session_id=SESSION,
)


def _json_log(**fields: object) -> bytes:
    record: dict[str, object] = {
        "timeUnixNano": str(TIME_NS),
        "severityNumber": 17,
        "severityText": "ERROR",
        "body": {"stringValue": "payment failed"},
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "attributes": [{"key": "session.id", "value": {"stringValue": SESSION}}],
    }
    record.update(fields)
    return json.dumps(
        {
            "resourceLogs": [
                {
                    "resource": {
                        "attributes": [
                            {"key": "service.name", "value": {"stringValue": "checkout"}}
                        ]
                    },
                    "scopeLogs": [{"scope": {"name": "app"}, "logRecords": [record]}],
                }
            ]
        }
    ).encode()


def test_protobuf_and_json_give_the_same_events() -> None:
    proto = convert_request(LOGS, logs_request(log_record()).SerializeToString(), json=False)
    from_json = convert_request(LOGS, _json_log(), json=True)
    assert proto.events == from_json.events == [LOG_EVENT]
    assert proto.message is None
    assert encode_response(proto, json=False) == b""
    assert encode_response(from_json, json=True) == b"{}"


@pytest.mark.parametrize(
    "trace_id", ["5B8EFFF798038103D269B633813FC60C", "5b8efff798038103d269b633813fc60c"]
)
def test_json_hex_ids_in_either_case(trace_id: str) -> None:
    events = convert_request(
        LOGS, _json_log(traceId=trace_id, spanId="EEE19B7EC3C1B174"), json=True
    )
    assert events.events == [LOG_EVENT]


@pytest.mark.parametrize(
    ("trace_id", "span_id"),
    [
        ("5b8e", "eee19b7ec3c1b174"),  # too short
        ("5b8efff798038103d269b633813fc60c00", "eee19b7ec3c1b174"),  # too long
        ("zz8efff798038103d269b633813fc60c", "eee1"),  # not hex; short span id
        ("", ""),  # empty: zero-length, invalid per the specification
    ],
)
def test_json_invalid_ids_are_read_as_absent_and_the_record_kept(
    trace_id: str, span_id: str
) -> None:
    conversion = convert_request(LOGS, _json_log(traceId=trace_id, spanId=span_id), json=True)
    [event] = conversion.events
    assert "trace_id" not in event.properties
    assert ("span_id" in event.properties) == (span_id == "eee19b7ec3c1b174")
    assert conversion.message is None


def test_protobuf_ids_of_the_wrong_length_are_read_as_absent() -> None:
    record = log_record()
    record.trace_id = b"\x01" * 5
    record.span_id = b"\x02" * 9
    [event] = convert_request(LOGS, logs_request(record).SerializeToString(), json=False).events
    assert "trace_id" not in event.properties
    assert "span_id" not in event.properties


@pytest.mark.parametrize("time", [str(TIME_NS), TIME_NS])
def test_json_int64_as_string_or_number(time: object) -> None:
    assert convert_request(LOGS, _json_log(timeUnixNano=time), json=True).events == [LOG_EVENT]


def test_json_unknown_fields_are_ignored() -> None:
    body = _json_log(futureField={"nested": [1, 2]}, anotherOne="x")
    document = json.loads(body)
    document["somethingNew"] = True
    document["resourceLogs"][0]["unknownToo"] = 1
    events = convert_request(LOGS, json.dumps(document).encode(), json=True).events
    assert events == [LOG_EVENT]


def test_old_instrumentation_library_blocks_are_read_in_both_encodings() -> None:
    scope_block = logs_request(log_record()).resource_logs[0].scope_logs[0].SerializeToString()
    # ResourceLogs with the scope block in the deprecated field 1000 instead of field 2.
    resource_logs = _varint(1000 << 3 | 2) + _varint(len(scope_block)) + scope_block
    proto = b"\x0a" + _varint(len(resource_logs)) + resource_logs
    old_json = json.loads(_json_log())
    block = old_json["resourceLogs"][0].pop("scopeLogs")
    old_json["resourceLogs"][0]["instrumentationLibraryLogs"] = block
    properties = {k: v for k, v in LOG_EVENT.properties.items() if k != "service.name"}
    expected = [
        Event(
            event=LOG_EVENT.event,
            timestamp=LOG_EVENT.timestamp,
            properties=properties,
            session_id=LOG_EVENT.session_id,
        )
    ]
    assert convert_request(LOGS, proto, json=False).events == expected
    from_json = convert_request(LOGS, json.dumps(old_json).encode(), json=True).events
    assert from_json == [LOG_EVENT]


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@pytest.mark.parametrize("signal", [LOGS, TRACES, METRICS])
@pytest.mark.parametrize("body", [b"", b"{}"])
def test_empty_requests_succeed(signal: Signal, body: bytes) -> None:
    conversion = convert_request(signal, body, json=body == b"{}")
    assert conversion.events == []
    assert conversion.message is None


def test_records_without_session_id_are_skipped_not_rejected() -> None:
    request = logs_request(log_record(session_id=None), log_record(), log_record(session_id=None))
    conversion = convert_request(LOGS, request.SerializeToString(), json=False)
    assert conversion.events == [LOG_EVENT]
    assert (conversion.stats.skipped, conversion.stats.rejected) == (2, 0)
    assert conversion.message is None


def test_unconvertible_records_give_partial_success_with_count_and_message() -> None:
    broken = log_record()
    broken.time_unix_nano = 0
    request = logs_request(broken, log_record(), broken)
    conversion = convert_request(LOGS, request.SerializeToString(), json=False)
    assert conversion.events == [LOG_EVENT]
    message = (
        "2 log records could not be converted to sessionvision events: log record: neither "
        "time_unix_nano nor observed_time_unix_nano is set"
    )  # one reason, said once
    expected = ExportLogsServiceResponse()
    expected.partial_success.rejected_log_records = 2
    expected.partial_success.error_message = message
    assert encode_response(conversion, json=False) == expected.SerializeToString()
    assert json.loads(encode_response(conversion, json=True)) == {
        "partialSuccess": {"rejectedLogRecords": "2", "errorMessage": message}
    }


def test_partial_success_message_is_bounded() -> None:
    broken = log_record()
    broken.time_unix_nano = 0
    conversion = convert_request(
        LOGS, logs_request(*[broken] * 500).SerializeToString(), json=False
    )
    message = conversion.message
    assert message is not None and len(message) <= MAX_MESSAGE_CHARS
    assert message.startswith("500 log records could not be converted")


def test_traces_become_span_events() -> None:
    request = traces_request(span(), span(session_id=None))
    conversion = convert_request(TRACES, request.SerializeToString(), json=False)
    [event] = conversion.events
    assert (event.event, event.session_id, event.properties["name"]) == (
        "$span",
        SESSION,
        "GET /cart",
    )
    assert conversion.stats.skipped == 1
    assert (
        encode_response(conversion, json=False) == ExportTraceServiceResponse().SerializeToString()
    )


def test_what_sv_otel_produced_comes_back_exactly() -> None:
    batch = sv_otel.parse_batch(json.dumps([event_json(), event_json(event="x")]).encode())
    logs = convert_request(LOGS, sv_otel.encode_logs(batch.events), json=False)
    spans = convert_request(TRACES, encode_json(sv_otel.events_to_spans(batch.events)), json=True)
    assert logs.events == spans.events == batch.events


def test_metrics_are_decoded_and_answered_with_a_warning() -> None:
    conversion = convert_request(METRICS, metrics_request(3).SerializeToString(), json=False)
    assert conversion.events == []
    message = (
        "metrics are not converted to sessionvision events: 3 data points were accepted and "
        "dropped; send only logs and traces to this endpoint"
    )
    expected = ExportMetricsServiceResponse()
    expected.partial_success.error_message = message
    assert expected.partial_success.rejected_data_points == 0
    assert encode_response(conversion, json=False) == expected.SerializeToString()
    from_json = convert_request(METRICS, encode_json(metrics_request(2)), json=True)
    assert from_json.dropped_points == 2


@pytest.mark.parametrize(
    ("signal", "body", "json_body", "message"),
    [
        (LOGS, b"\x0a\x05\x01", False, "protobuf: a field runs past the end of its message"),
        (TRACES, b"\xff\xff\xff", False, "protobuf: truncated message"),
        (METRICS, b"\x0a\x05\x01", False, "protobuf: not a valid ExportMetricsServiceRequest"),
        (LOGS, b"1234", True, "body: expected object, got number"),
        (LOGS, b"{", True, "body: not JSON (input data was truncated)"),
        (
            LOGS,
            b'{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"soon"}]}]}]}',
            True,
            'resourceLogs[0].scopeLogs[0].logRecords[0].timeUnixNano: expected integer, got "soon"',
        ),
    ],
)
def test_undecodable_bodies_raise_with_a_message(
    signal: Signal, body: bytes, json_body: bool, message: str
) -> None:
    with pytest.raises(InvalidOTLPError) as caught:
        convert_request(signal, body, json=json_body)
    assert caught.value.message == message


@pytest.mark.parametrize("levels", [40, 60])
def test_a_json_record_nested_too_deep_is_rejected_alone(levels: int) -> None:
    request = json.loads(_json_log())
    record = request["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    deep: dict[str, object] = {"stringValue": "leaf"}
    for _ in range(levels):
        deep = {"arrayValue": {"values": [deep]}}
    records = [record, {**record, "body": deep}, record]
    request["resourceLogs"][0]["scopeLogs"][0]["logRecords"] = records
    conversion = convert_request(LOGS, json.dumps(request).encode(), json=True)
    if levels == 40:  # 40 array levels are 84 message levels, within protobuf's 100
        assert len(conversion.events) == 3
        assert conversion.message is None
        return
    assert conversion.events == [LOG_EVENT, LOG_EVENT]
    assert conversion.stats.rejected == 1
    assert conversion.message == (
        "1 log record could not be converted to sessionvision events: "
        "log record: nested deeper than 100 message levels (in it, or in its scope's or "
        "resource's attributes)"
    )


def test_a_json_resource_nested_too_deep_costs_only_its_own_records() -> None:
    request = json.loads(_json_log())
    deep_block = json.loads(_json_log())["resourceLogs"][0]
    deep: dict[str, object] = {"stringValue": "leaf"}
    for _ in range(60):
        deep = {"arrayValue": {"values": [deep]}}
    deep_block["resource"]["attributes"].append({"key": "deep", "value": deep})
    request["resourceLogs"].insert(0, deep_block)
    conversion = convert_request(LOGS, json.dumps(request).encode(), json=True)
    assert conversion.events == [LOG_EVENT]
    assert conversion.stats.rejected == 1
    assert conversion.message is not None and "resource's attributes" in conversion.message
