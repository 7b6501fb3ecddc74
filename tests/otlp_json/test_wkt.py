"""Tests of google.rpc.Status (the OTLP/HTTP error body) and the well-known types in it."""

from __future__ import annotations

import importlib
import struct
from typing import Any

import pytest
from google.protobuf import (
    any_pb2,
    duration_pb2,
    field_mask_pb2,
    json_format,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.message import Message

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json, decode_json_dict, encode_json, encode_json_dict

# googleapis-common-protos ships no type information: load its modules untyped.
status_pb2 = importlib.import_module("google.rpc.status_pb2")
error_details_pb2 = importlib.import_module("google.rpc.error_details_pb2")


def _packed(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message, deterministic=True)  # as decode_json packs: map entries by key
    return packed


def _status() -> Any:
    return status_pb2.Status(
        code=3,
        message="invalid traceId",
        details=[
            _packed(
                error_details_pb2.RetryInfo(
                    retry_delay=duration_pb2.Duration(seconds=1, nanos=500_000_000)
                )
            ),
            _packed(
                error_details_pb2.BadRequest(
                    field_violations=[
                        error_details_pb2.BadRequest.FieldViolation(
                            field="resourceSpans[0].scopeSpans[0].spans[0].traceId",
                            description="expected 32 hex characters",
                        )
                    ]
                )
            ),
            _packed(error_details_pb2.ErrorInfo(reason="BAD_ID", metadata={"a": "1", "b": "2"})),
        ],
    )


def test_status_encodes_like_json_format() -> None:
    status = _status()
    encoded = encode_json_dict(status)
    assert encoded == json_format.MessageToDict(status)
    assert encoded["details"] == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.500s"},
        {
            "@type": "type.googleapis.com/google.rpc.BadRequest",
            "fieldViolations": [
                {
                    "field": "resourceSpans[0].scopeSpans[0].spans[0].traceId",
                    "description": "expected 32 hex characters",
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "BAD_ID",
            "metadata": {"a": "1", "b": "2"},
        },
    ]


def test_status_round_trips() -> None:
    status = _status()
    assert decode_json(encode_json(status), status_pb2.Status) == status
    assert decode_json(json_format.MessageToJson(status), status_pb2.Status) == status


def test_any_payloads_are_serialised_deterministically() -> None:
    # Map entries in the payload bytes come in key order, whatever order upb's hash table (whose
    # seed changes from process to process) or the JSON object gives them.
    metadata = {f"key{i}": str(i) for i in range(20)}
    detail = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "metadata": metadata}
    reversed_detail = {**detail, "metadata": dict(reversed(metadata.items()))}
    one = decode_json_dict({"details": [detail]}, status_pb2.Status).details[0]
    other = decode_json_dict({"details": [reversed_detail]}, status_pb2.Status).details[0]
    expected = error_details_pb2.ErrorInfo(metadata=metadata).SerializeToString(deterministic=True)
    assert one.value == other.value == expected


def test_unknown_any_type_is_an_error() -> None:
    body = b'{"details": [{"@type": "type.googleapis.com/example.Unknown", "x": 1}]}'
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json(body, status_pb2.Status)
    assert caught.value.message == (
        'details[0]: unknown message type "type.googleapis.com/example.Unknown" in Any'
    )
    status = status_pb2.Status(details=[any_pb2.Any(type_url="example.com/x.Y", value=b"")])
    with pytest.raises(InvalidOTLPError, match=r'^details\[0\]: unknown message type "example'):
        encode_json(status)


def test_any_edge_cases() -> None:
    assert encode_json_dict(status_pb2.Status(details=[any_pb2.Any()])) == {"details": [{}]}
    assert decode_json_dict({"details": [{}]}, status_pb2.Status).details[0] == any_pb2.Any()
    with pytest.raises(InvalidOTLPError, match=r'^details\[0\]: expected "@type" in Any$'):
        decode_json_dict({"details": [{"reason": "x"}]}, status_pb2.Status)
    with pytest.raises(InvalidOTLPError, match=r"^details\[0\]: expected object, got string$"):
        decode_json_dict({"details": ["x"]}, status_pb2.Status)


def test_any_of_a_well_known_type() -> None:
    status = status_pb2.Status(details=[_packed(duration_pb2.Duration(seconds=-2))])
    encoded = encode_json_dict(status)
    assert encoded == {
        "details": [{"@type": "type.googleapis.com/google.protobuf.Duration", "value": "-2s"}]
    }
    assert encoded == json_format.MessageToDict(status)
    assert decode_json_dict(encoded, status_pb2.Status) == status


@pytest.mark.parametrize(
    ("text", "seconds", "nanos"),
    [
        ("1.5s", 1, 500_000_000),
        ("0s", 0, 0),
        ("-0.5s", 0, -500_000_000),
        ("-1.000000001s", -1, -1),
        ("315576000000s", 315_576_000_000, 0),
    ],
)
def test_durations(text: str, seconds: int, nanos: int) -> None:
    duration = duration_pb2.Duration(seconds=seconds, nanos=nanos)
    assert decode_json(f'"{text}"', duration_pb2.Duration) == duration
    assert encode_json(duration) == f'"{json_format.MessageToDict(duration)}"'.encode()


@pytest.mark.parametrize("text", ["1.5", "1.5ms", "s", "-s", "1.0000000001s", "315576000001s"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidOTLPError, match=r"^body: "):
        decode_json(f'"{text}"', duration_pb2.Duration)


def test_duration_with_too_many_digits_is_an_error_not_a_crash() -> None:
    seconds = "1" * 5000  # int() refuses more than 4300 digits with a ValueError
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json(f'{{"retryDelay": "{seconds}s"}}', error_details_pb2.RetryInfo)
    assert caught.value.message == 'retryDelay: duration out of range: "' + "1" * 48 + '..."'
    leading_zeros = decode_json('"' + "0" * 5000 + '1.5s"', duration_pb2.Duration)
    assert leading_zeros == duration_pb2.Duration(seconds=1, nanos=500_000_000)


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("1972-01-01T10:00:20.021Z", "1972-01-01T10:00:20.021Z"),
        ("1972-01-01T10:00:20.021000Z", "1972-01-01T10:00:20.021Z"),
        ("1972-01-01T11:00:20+01:00", "1972-01-01T10:00:20Z"),
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z"),
        ("9999-12-31T23:59:59.999999999Z", "9999-12-31T23:59:59.999999999Z"),
        ("1970-01-01T00:00:00.000001Z", "1970-01-01T00:00:00.000001Z"),
    ],
)
def test_timestamps(text: str, canonical: str) -> None:
    timestamp = decode_json(f'"{text}"', timestamp_pb2.Timestamp)
    expected = timestamp_pb2.Timestamp()
    expected.FromJsonString(text)
    assert timestamp == expected
    assert encode_json(timestamp) == f'"{canonical}"'.encode()


@pytest.mark.parametrize(
    "text", ["2021-02-30T00:00:00Z", "2021-01-01 00:00:00Z", "2021-01-01T00:00:00", "x"]
)
def test_bad_timestamps(text: str) -> None:
    with pytest.raises(InvalidOTLPError, match=r"^body: expected an RFC 3339 timestamp"):
        decode_json(f'"{text}"', timestamp_pb2.Timestamp)


def test_struct_value_and_list_value() -> None:
    text = '{"a": [1, "x", null, true, {"b": {}}], "c": -2.5, "d": null}'
    struct = decode_json(text, struct_pb2.Struct)
    assert struct == json_format.Parse(text, struct_pb2.Struct())
    assert encode_json_dict(struct) == json_format.MessageToDict(struct)
    value = decode_json("[1, {}]", struct_pb2.Value)
    assert value == json_format.Parse("[1, {}]", struct_pb2.Value())
    assert encode_json(value) == b"[1.0,{}]"
    assert decode_json("null", struct_pb2.Value) == struct_pb2.Value(
        null_value=struct_pb2.NULL_VALUE
    )
    assert decode_json("[[]]", struct_pb2.ListValue) == json_format.Parse(
        "[[]]", struct_pb2.ListValue()
    )


def test_wrappers_and_field_mask() -> None:
    assert encode_json(wrappers_pb2.Int64Value(value=5)) == b'"5"'
    assert decode_json("5", wrappers_pb2.Int64Value) == wrappers_pb2.Int64Value(value=5)
    assert decode_json('"aGk="', wrappers_pb2.BytesValue).value == b"hi"
    assert encode_json(wrappers_pb2.BoolValue()) == b"false"
    mask = field_mask_pb2.FieldMask(paths=["resource_logs", "scope_logs.log_records"])
    assert encode_json(mask) == b'"resourceLogs,scopeLogs.logRecords"'
    assert decode_json(encode_json(mask), field_mask_pb2.FieldMask) == mask


_FLOAT32_MAX = struct.unpack("<f", struct.pack("<f", 3.4028234663852886e38))[0]


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (_FLOAT32_MAX, b"3.4028235e38"),
        (-_FLOAT32_MAX, b"-3.4028235e38"),
        (struct.unpack("<f", struct.pack("<f", 1e-45))[0], b"1e-45"),
        (struct.unpack("<f", struct.pack("<f", 0.1))[0], b"0.1"),
        (struct.unpack("<f", struct.pack("<f", 16777217.0))[0], b"16777216.0"),
    ],
)
def test_float_values_are_the_shortest_text_and_read_back(value: float, text: bytes) -> None:
    message = wrappers_pb2.FloatValue(value=value)
    assert encode_json(message) == text
    assert decode_json(text, wrappers_pb2.FloatValue) == message


@pytest.mark.parametrize("text", ["3.4028236e38", "-3.5e38", "1e39"])
def test_float_values_that_round_to_infinity_are_errors(text: str) -> None:
    with pytest.raises(InvalidOTLPError, match=r"^body: out of range for float: "):
        decode_json(text, wrappers_pb2.FloatValue)


def test_encode_json_dict_refuses_non_object_forms() -> None:
    with pytest.raises(TypeError, match="use encode_json"):
        encode_json_dict(duration_pb2.Duration(seconds=1))


def test_null_map_values_are_errors_as_in_repeated_fields() -> None:
    # null has no "not set" meaning for a map value (protojson and json_format refuse it too);
    # it was dropped with its key.
    detail = {
        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
        "metadata": {"a": "1", "b": None},
    }
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json_dict({"details": [detail]}, status_pb2.Status)
    assert caught.value.message == 'details[0].metadata["b"]: expected a value, got null'
    struct = decode_json_dict({"a": None}, struct_pb2.Struct)  # a Value map: null is a value
    assert struct.fields["a"].WhichOneof("kind") == "null_value"


def test_errors_inside_maps_and_structs_name_the_key() -> None:
    detail = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "metadata": {"a.b": 5}}
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json_dict({"details": [detail]}, status_pb2.Status)
    assert caught.value.message == 'details[0].metadata["a.b"]: expected string, got number'
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json_dict({"a": [{"b": 10**400}]}, struct_pb2.Struct)
    assert caught.value.message == '["a"][0]["b"]: out of range for double: a 401-digit number'
