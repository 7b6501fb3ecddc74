"""Tests of reading the JSON text (``_text``): exact numbers where msgspec would round them."""

from __future__ import annotations

import decimal
import json
import math

import msgspec
import pytest
from google.protobuf import struct_pb2
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.metrics.v1.metrics_pb2 import HistogramDataPoint

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json, decode_json_dict

from ._helpers import decode_error


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"1544712660300000001.0", 1544712660300000001),
        (b"1.544712660300000001e18", 1544712660300000001),
        (b"18446744073709551615.0", 2**64 - 1),
        (b"1544712660300000001", 1544712660300000001),
    ],
)
def test_big_numbers_with_a_fraction_or_exponent_are_not_rounded(
    text: bytes, expected: int
) -> None:
    body = b'{"timeUnixNano": ' + text + b"}"
    assert decode_json(body, LogRecord).time_unix_nano == expected
    assert decode_json(body.decode(), LogRecord).time_unix_nano == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (b"1.0000000000000001", "expected integer, got 1.0000000000000001"),
        (b"4503599627370496.5", "expected integer, got 4503599627370496.5"),
        (b"18446744073709551616.0", "out of range for fixed64: 18446744073709551616"),
        (b"9.3e18", "out of range for int64: 9300000000000000000"),
    ],
)
def test_numbers_that_a_float_would_round_to_an_integer_are_errors(
    text: bytes, problem: str
) -> None:
    key = "intValue" if b"9.3" in text else "timeUnixNano"
    message_type = AnyValue if key == "intValue" else LogRecord
    body = b'{"' + key.encode() + b'": ' + text + b"}"
    assert decode_error(body, message_type) == f"{key}: {problem}"


def test_a_float_in_an_int_field_of_parsed_json_is_read_by_its_shortest_text() -> None:
    # 1e23 is 99999999999999991611392 in binary; as JSON text it is 10**23.
    body = msgspec.json.encode({"timeUnixNano": 1e23})
    expected = "timeUnixNano: out of range for fixed64: 100000000000000000000000"
    assert decode_error(body, LogRecord) == expected
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json_dict({"timeUnixNano": 1e23}, LogRecord)
    assert caught.value.message == expected
    assert decode_json_dict({"timeUnixNano": 1.5e3}, LogRecord).time_unix_nano == 1500


@pytest.mark.parametrize("body", [b'{"doubleValue": -0}', '{"doubleValue":\n\t-0}'])
def test_the_literal_minus_zero_is_negative_zero(body: bytes | str) -> None:
    # Go's encoders (protojson, the Collector's) write negative zero as -0, which msgspec reads
    # as the integer 0.
    value = decode_json(body, AnyValue).double_value
    assert value == 0.0
    assert math.copysign(1.0, value) == -1.0


def test_minus_zero_in_repeated_doubles_and_structs() -> None:
    point = decode_json(b'{"explicitBounds": [0, -0, 1, -0.0]}', HistogramDataPoint)
    assert [math.copysign(1.0, bound) for bound in point.explicit_bounds] == [1, -1, 1, -1]
    struct = decode_json(b'{"a": -0, "b": 0}', struct_pb2.Struct)
    assert math.copysign(1.0, struct.fields["a"].number_value) == -1.0
    assert math.copysign(1.0, struct.fields["b"].number_value) == 1.0


def test_zero_stays_positive_beside_minus_zero_text_in_strings() -> None:
    body = b'{"timeUnixNano": "1", "attributes": [{"key": "a -0", "value": {"doubleValue": 0}}]}'
    value = decode_json(body, LogRecord).attributes[0].value.double_value
    assert math.copysign(1.0, value) == 1.0


@pytest.mark.parametrize(
    "number",
    [b"1e400", b"-1e400", b"1" + b"0" * 5000, b"-" + b"9" * 4400, b"1" + b"0" * 5000 + b".5"],
)
def test_numbers_msgspec_refuses_are_ignored_in_unknown_fields(number: bytes) -> None:
    body = b'{"futureField": ' + number + b', "future": [' + number + b'], "intValue": "5"}'
    assert decode_json(body, AnyValue) == AnyValue(int_value=5)


@pytest.mark.parametrize(
    ("key", "number", "problem"),
    [
        ("doubleValue", b"1e400", "out of range for double: a 401-digit number"),
        ("doubleValue", b"-1.5e400", "out of range for double: a negative 401-digit number"),
        ("intValue", b"1" + b"0" * 5000, "out of range for int64: a 5001-digit number"),
        ("intValue", b"1e-400", "expected integer, got 1E-400"),
    ],
)
def test_numbers_msgspec_refuses_in_known_fields_name_the_path(
    key: str, number: bytes, problem: str
) -> None:
    body = b'{"' + key.encode() + b'": ' + number + b"}"
    assert decode_error(body, AnyValue) == f"{key}: {problem}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a": 1e400 "b": 1}', "body: not JSON (expecting ',' delimiter at byte 12)"),
        (b'{"a": 1e400, "b": NaN}', "body: not JSON (invalid literal NaN)"),
        ('{"\u00e9": 1e400 x', "body: not JSON (expecting ',' delimiter at byte 13)"),
        (b'{"a": 1e400, "b": "\xff"}', "body: not JSON (invalid UTF-8)"),
    ],
)
def test_bad_json_after_a_huge_number(body: bytes | str, message: str) -> None:
    assert decode_error(body, AnyValue) == message


def test_decimals_from_parsed_json_are_exact() -> None:
    data = json.loads(
        '{"timeUnixNano": 1544712660300000001.0, "body": {"doubleValue": 0.1}}',
        parse_float=decimal.Decimal,
    )
    record = decode_json_dict(data, LogRecord)
    assert record.time_unix_nano == 1544712660300000001
    assert record.body.double_value == 0.1
    with pytest.raises(InvalidOTLPError, match=r"^timeUnixNano: expected integer, got 0.5$"):
        decode_json_dict({"timeUnixNano": decimal.Decimal("0.5")}, LogRecord)
    with pytest.raises(InvalidOTLPError, match=r"^timeUnixNano: expected integer, got NaN$"):
        decode_json_dict({"timeUnixNano": decimal.Decimal("NaN")}, LogRecord)
    with pytest.raises(InvalidOTLPError, match=r"^doubleValue: expected number, got sNaN$"):
        decode_json_dict({"doubleValue": decimal.Decimal("sNaN")}, AnyValue)


@pytest.mark.parametrize(
    ("value", "digits"),
    [
        (2**129, "a 39-digit number"),
        (10**38 * 4, "a 39-digit number"),
        (-(2**200), "a negative 61-digit number"),
    ],
)
def test_huge_integers_are_shown_with_their_exact_digit_count(value: int, digits: str) -> None:
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json_dict({"timeUnixNano": value}, LogRecord)
    assert caught.value.message == f"timeUnixNano: out of range for fixed64: {digits}"
