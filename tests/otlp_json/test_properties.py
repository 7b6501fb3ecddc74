"""Property tests: round trips, agreement with json_format, and no crash on any input."""

from __future__ import annotations

import msgspec
import pytest
from google.protobuf import json_format
from google.protobuf.message import Message
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json, decode_json_dict, encode_json, encode_json_dict

from ._strategies import JSON_OBJECTS, METRICS_REQUESTS, TRACE_REQUESTS, logs_requests

SLOW = settings(deadline=None, max_examples=150)


@SLOW
@given(st.one_of(logs_requests(), TRACE_REQUESTS, METRICS_REQUESTS))
def test_round_trip(message: Message) -> None:
    assert decode_json(encode_json(message), type(message)) == message
    assert decode_json_dict(encode_json_dict(message), type(message)) == message


@SLOW
@given(st.one_of(logs_requests(with_ids=False), METRICS_REQUESTS))
def test_agrees_with_json_format_without_ids(message: Message) -> None:
    # json_format base64-encodes ids, so only messages without ids can be compared.
    assert encode_json_dict(message) == json_format.MessageToDict(
        message, use_integers_for_enums=True
    )
    for data in (
        json_format.MessageToDict(message),  # enum names
        json_format.MessageToDict(message, preserving_proto_field_name=True),  # snake_case
    ):
        expected = json_format.ParseDict(data, type(message)())
        assert decode_json_dict(data, type(message)) == expected
        assert decode_json(json_format.MessageToJson(message), type(message)) == expected


@SLOW
@given(st.one_of(logs_requests(), TRACE_REQUESTS))
def test_lenient_ids_change_nothing_on_good_input(message: Message) -> None:
    assert decode_json(encode_json(message), type(message), strict_ids=False) == message


@settings(deadline=None, max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_invalid(data: bytes) -> None:
    for message_type in (ExportLogsServiceRequest, ExportTraceServiceRequest):
        try:
            decoded = decode_json(data, message_type)
        except InvalidOTLPError as error:
            assert error.message
        else:
            assert isinstance(decoded, message_type)


@settings(deadline=None, max_examples=300)
@given(JSON_OBJECTS, st.booleans())
def test_arbitrary_json_decodes_or_raises_invalid(obj: dict[str, object], strict: bool) -> None:
    body = msgspec.json.encode(obj)
    faithful = msgspec.json.decode(body) == obj  # not if NaN or infinities became null
    for message_type in (ExportLogsServiceRequest, ExportTraceServiceRequest):
        try:
            message = decode_json_dict(obj, message_type, strict_ids=strict)
        except InvalidOTLPError as err:
            if faithful:
                with pytest.raises(InvalidOTLPError) as caught:
                    decode_json(body, message_type, strict_ids=strict)
                assert caught.value.message == err.message
            continue
        if faithful:
            assert decode_json(body, message_type, strict_ids=strict) == message
        # Whatever decodes re-encodes and decodes to the same message.
        assert decode_json(encode_json(message), message_type) == message


@settings(deadline=None, max_examples=200)
@given(JSON_OBJECTS)
def test_arbitrary_json_inside_a_log_record(record: dict[str, object]) -> None:
    body = {"resourceLogs": [{"scopeLogs": [{"logRecords": [record]}]}]}
    try:
        message = decode_json_dict(body, ExportLogsServiceRequest)
    except InvalidOTLPError as err:
        assert err.message.startswith("resourceLogs[0].scopeLogs[0].logRecords[0]")
    else:
        assert decode_json(encode_json(message), ExportLogsServiceRequest) == message


def _spellings(number: int) -> list[bytes]:
    """JSON texts of one integer: plain, as a string, with a fraction, with exponents."""
    digits = str(abs(number))
    sign = "-" if number < 0 else ""
    mantissa = f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else digits
    texts = [
        str(number),
        f'"{number}"',
        f"{number}.0",
        f"{number}.000",
        f"{sign}{mantissa}e{len(digits) - 1}",
        f"{sign}{mantissa}E+{len(digits) - 1}",
        f'"{sign}{mantissa}e{len(digits) - 1}"',
    ]
    if number:
        texts.append(f"{sign}{digits}0e-1")  # not 00e-1: JSON has no leading zeros
    return [text.encode() for text in texts]


@settings(deadline=None, max_examples=200)
@given(st.integers(-(2**63), 2**63 - 1))
def test_every_spelling_of_an_int64_reads_exactly(number: int) -> None:
    for text in _spellings(number):
        assert decode_json(b'{"intValue": ' + text + b"}", AnyValue).int_value == number, text


@settings(deadline=None, max_examples=200)
@given(st.integers(-(2**70), 2**70), st.sampled_from([b".5", b".0000000000000000001", b"e-1"]))
def test_near_integers_are_never_taken_for_integers(number: int, tail: bytes) -> None:
    text = str(number).encode() + tail
    if tail == b"e-1" and number % 10 == 0:
        return  # 120e-1 is the integer 12
    with pytest.raises(InvalidOTLPError, match=r"^intValue: expected integer, got "):
        decode_json(b'{"intValue": ' + text + b"}", AnyValue)
