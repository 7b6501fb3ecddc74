"""Tests of decoding integers (32/64-bit), enums, doubles and base64 bytes."""

from __future__ import annotations

import math

import msgspec
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json_dict

from ._helpers import RECORD_PATH, decode_error, first_record, logs_with


@pytest.mark.parametrize(
    "value",
    [1544712660300000000, "1544712660300000000", 1544712660300000000.0, "1.5447126603e18"],
)
def test_int64_as_string_or_number(value: object) -> None:
    assert first_record(logs_with(timeUnixNano=value)).time_unix_nano == 1544712660300000000


@pytest.mark.parametrize(
    ("value", "expected"),
    [(10, 10), ("10", 10), ("-10", -10), (-(2**63), -(2**63)), (str(2**63 - 1), 2**63 - 1)],
)
def test_int_value_in_any_value(value: object, expected: int) -> None:
    assert decode_json_dict({"intValue": value}, AnyValue).int_value == expected


@pytest.mark.parametrize(("value", "expected"), [(7, 7), ("7", 7), (7.0, 7), ("0", 0)])
def test_uint32_as_number_or_numeric_string(value: object, expected: int) -> None:
    assert (
        first_record(logs_with(droppedAttributesCount=value)).dropped_attributes_count == expected
    )


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("timeUnixNano", -1, "out of range for fixed64: -1"),
        ("timeUnixNano", "18446744073709551616", "out of range for fixed64: 18446744073709551616"),
        ("droppedAttributesCount", 2**32, "out of range for uint32: 4294967296"),
        ("droppedAttributesCount", -1, "out of range for uint32: -1"),
        ("flags", "4294967296", "out of range for fixed32: 4294967296"),
        ("timeUnixNano", "abc", 'expected integer, got "abc"'),
        ("timeUnixNano", "", 'expected integer, got ""'),
        ("timeUnixNano", " 12", 'expected integer, got " 12"'),
        ("timeUnixNano", "1_000", 'expected integer, got "1_000"'),
        ("timeUnixNano", "1.5", 'expected integer, got "1.5"'),
        ("timeUnixNano", 1.5, "expected integer, got 1.5"),
        ("timeUnixNano", True, "expected integer, got boolean"),
        ("timeUnixNano", {}, "expected integer, got object"),
        ("severityNumber", 2**31, "out of range for SeverityNumber: 2147483648"),
    ],
)
def test_bad_integers_are_errors(key: str, value: object, problem: str) -> None:
    assert decode_error(logs_with(**{key: value})) == f"{RECORD_PATH}.{key}: {problem}"


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (10**5000, "out of range for fixed64: a 5001-digit number"),
        (-(10**50), "out of range for fixed64: a negative 51-digit number"),
        ("9" * 5000, "out of range for fixed64: a 5000-digit number"),
        ("0" * 5000 + "-1", 'expected integer, got "' + "0" * 48 + '..."'),
        (1e300, "out of range for fixed64: a 301-digit number"),
    ],
    ids=["huge", "negative", "long-string", "not-a-number", "huge-float"],
)
def test_huge_integers_are_errors_with_short_messages(value: object, problem: str) -> None:
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json_dict(logs_with(timeUnixNano=value), ExportLogsServiceRequest)
    assert caught.value.message == f"{RECORD_PATH}.timeUnixNano: {problem}"


def test_huge_integer_for_a_double_is_an_error() -> None:
    assert decode_error({"doubleValue": str(10**400)}, AnyValue) == (
        'doubleValue: out of range for double: "' + "1" + "0" * 47 + '..."'
    )
    with pytest.raises(InvalidOTLPError, match=r"^doubleValue: out of range for double: a 401-"):
        decode_json_dict({"doubleValue": 10**400}, AnyValue)


def test_int64_out_of_range_in_any_value() -> None:
    assert decode_error({"intValue": str(2**63)}, AnyValue) == (
        "intValue: out of range for int64: 9223372036854775808"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(9, 9), ("SEVERITY_NUMBER_INFO", 9), ("9", 9), (99, 99), ("SEVERITY_NUMBER_FATAL4", 24)],
)
def test_enums_as_numbers_or_names(value: object, expected: int) -> None:
    assert first_record(logs_with(severityNumber=value)).severity_number == expected


def test_span_kind_and_status_code_names() -> None:
    span = decode_json_dict(
        {"kind": "SPAN_KIND_SERVER", "status": {"code": "STATUS_CODE_ERROR", "message": "boom"}},
        Span,
    )
    assert span.kind == Span.SPAN_KIND_SERVER
    assert span.status.code == 2
    assert span.status.message == "boom"


def test_unknown_enum_name_is_andecode_error() -> None:
    assert decode_error({"kind": "SERVER"}, Span) == 'kind: unknown SpanKind value "SERVER"'


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (637.704, 637.704),
        (10, 10.0),
        ("1.5", 1.5),
        ("-2e3", -2000.0),
        ("Infinity", math.inf),
        ("-Infinity", -math.inf),
    ],
)
def test_doubles(value: object, expected: float) -> None:
    assert decode_json_dict({"doubleValue": value}, AnyValue).double_value == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Older Collectors wrote infinities with Go's %f ("+Inf", "-Inf"); the Collector reads
        # doubles with strconv.ParseFloat, which takes these spellings in any letter case.
        ("+Inf", math.inf),
        ("-Inf", -math.inf),
        ("inf", math.inf),
        ("INFINITY", math.inf),
        ("+Infinity", math.inf),
        ("-infinity", -math.inf),
    ],
)
def test_go_spellings_of_infinity(value: str, expected: float) -> None:
    assert decode_json_dict({"doubleValue": value}, AnyValue).double_value == expected


@pytest.mark.parametrize("value", ["NaN", "nan", "NAN"])
def test_double_nan(value: str) -> None:
    assert math.isnan(decode_json_dict({"doubleValue": value}, AnyValue).double_value)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("-NaN", 'expected number, got "-NaN"'),
        ("+nan", 'expected number, got "+nan"'),
        ("infinit", 'expected number, got "infinit"'),
        ("Infinity ", 'expected number, got "Infinity "'),
        ("1e999", 'out of range for double: "1e999"'),
        (True, "expected number, got boolean"),
        ([], "expected number, got array"),
    ],
)
def test_bad_doubles_are_errors(value: object, problem: str) -> None:
    assert decode_error({"doubleValue": value}, AnyValue) == f"doubleValue: {problem}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("aGk/Pj4+", b"hi?>>>"),
        ("aGk_Pj4-", b"hi?>>>"),
        ("aGVsbG8=", b"hello"),
        ("aGVsbG8", b"hello"),
        ("aGVsbA==", b"hell"),
        ("aGVsbA", b"hell"),
        ("_-8=", b"\xff\xef"),
        ("_-8", b"\xff\xef"),
        # Go's decoders (protojson's, the Collector's) skip line breaks, as MIME writes them.
        ("aGVs\nbG8=", b"hello"),
        ("aGVsbG8=\r\n", b"hello"),
        ("aGk_\r\nPj4-", b"hi?>>>"),
    ],
)
def test_bytes_are_base64_standard_or_url_safe_padded_or_not(text: str, expected: bytes) -> None:
    assert decode_json_dict({"bytesValue": text}, AnyValue).bytes_value == expected


@pytest.mark.parametrize(
    "text",
    [
        "***",
        "a",
        "aGVsbG8=x",
        "aGV sbG8=",
        "aGV\tsbG8=",
        "aGk_Pj4+",  # both alphabets at once
        "aGk/Pj4-",
        "aGVsbA=",  # padding that does not complete the last group
        "aGVsbA===",
        "aGVsbG8==",
        "=",
        "aGVs=bG8",
    ],
)
def test_bad_base64_is_andecode_error(text: str) -> None:
    assert (
        decode_error({"bytesValue": text}, AnyValue)
        == f"bytesValue: invalid base64: {msgspec.json.encode(text).decode()}"
    )


def test_empty_bytes() -> None:
    value = decode_json_dict({"bytesValue": ""}, AnyValue)
    assert value.WhichOneof("value") == "bytes_value"
    assert value.bytes_value == b""
