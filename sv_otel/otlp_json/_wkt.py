"""The well-known protobuf types that have their own JSON form (except ``Any``).

``google.rpc.Status`` (the OTLP/HTTP error body) carries ``google.protobuf.Any`` details such as
``google.rpc.RetryInfo``, whose ``retry_delay`` is a ``google.protobuf.Duration`` written as
``"1.5s"``. This module maps ``Duration``, ``Timestamp``, ``FieldMask``, the wrapper types, and
``Struct``/``Value``/``ListValue`` as the proto3 JSON mapping says. ``Any`` needs the generic
message walker, so it lives in :mod:`~sv_otel.otlp_json.decode` and
:mod:`~sv_otel.otlp_json.encode`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Mapping
from decimal import Decimal

from google.protobuf import duration_pb2, field_mask_pb2, struct_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from sv_otel.otlp_json._decode_scalars import (
    check_string,
    decimal_to_double,
    decoder_for,
    int_to_double,
)
from sv_otel.otlp_json._encode_scalars import encode_double, encoder_for
from sv_otel.otlp_json._path import (
    MAX_DEPTH,
    FieldError,
    describe,
    json_type,
    key_segment,
    too_deep,
)

__all__ = ["DECODERS", "ENCODERS"]

WktDecoder = Callable[[object, bool, int], Message]
WktEncoder = Callable[[Message, int], object]

_DURATION = re.compile(r"(-)?([0-9]+)(?:\.([0-9]{1,9}))?s\Z")
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})\Z"
)
_MAX_DURATION_SECONDS = 315_576_000_000
_MIN_TIMESTAMP, _MAX_TIMESTAMP = -62_135_596_800, 253_402_300_799  # 0001-01-01, 9999-12-31
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
_SNAKE = re.compile(r"_([a-z0-9])")
_CAMEL = re.compile(r"([A-Z])")


def _fraction(nanos: int) -> str:
    """Return ``""``, ``".123"``, ``".123456"`` or ``".123456789"`` for ``nanos``."""
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1_000 == 0:
        return f".{nanos // 1_000:06d}"
    return f".{nanos:09d}"


def _decode_duration(value: object, strict: bool, depth: int) -> Message:
    match = _DURATION.match(check_string(value))
    if match is None:
        raise FieldError(f'expected a duration like "1.5s", got {describe(str(value))}')
    sign = -1 if match[1] else 1
    digits = match[2].lstrip("0") or "0"  # length first: int() refuses over 4300 digits
    if len(digits) > 12 or int(digits) > _MAX_DURATION_SECONDS:
        raise FieldError(f"duration out of range: {describe(str(value))}")
    seconds, nanos = int(digits), int((match[3] or "").ljust(9, "0"))
    return duration_pb2.Duration(seconds=sign * seconds, nanos=sign * nanos)


def _encode_duration(message: Message, depth: int) -> object:
    assert isinstance(message, duration_pb2.Duration)
    seconds, nanos = message.seconds, message.nanos
    if abs(seconds) > _MAX_DURATION_SECONDS or abs(nanos) > 999_999_999 or seconds * nanos < 0:
        raise FieldError(f"invalid Duration: seconds={seconds} nanos={nanos}")
    sign = "-" if seconds < 0 or nanos < 0 else ""
    return f"{sign}{abs(seconds)}{_fraction(abs(nanos))}s"


def _decode_timestamp(value: object, strict: bool, depth: int) -> Message:
    text = check_string(value)
    match = _TIMESTAMP.match(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second = (int(match[i]) for i in range(1, 7))
        moment = datetime.datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise FieldError(f"expected an RFC 3339 timestamp, got {describe(text)}") from None
    seconds = (moment.replace(tzinfo=datetime.timezone.utc) - _EPOCH) // datetime.timedelta(
        seconds=1
    )
    zone = match[8]
    if zone != "Z":
        offset = int(zone[1:3]) * 3600 + int(zone[4:6]) * 60
        seconds -= offset if zone[0] == "+" else -offset
    if not _MIN_TIMESTAMP <= seconds <= _MAX_TIMESTAMP:
        raise FieldError(f"timestamp out of range: {describe(text)}")
    nanos = int((match[7] or "").ljust(9, "0"))
    return timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos)


def _encode_timestamp(message: Message, depth: int) -> object:
    assert isinstance(message, timestamp_pb2.Timestamp)
    seconds, nanos = message.seconds, message.nanos
    if not _MIN_TIMESTAMP <= seconds <= _MAX_TIMESTAMP or not 0 <= nanos <= 999_999_999:
        raise FieldError(f"invalid Timestamp: seconds={seconds} nanos={nanos}")
    t = _EPOCH + datetime.timedelta(seconds=seconds)
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f"{_fraction(nanos)}Z"
    )


def _decode_field_mask(value: object, strict: bool, depth: int) -> Message:
    text = check_string(value)
    paths = [_CAMEL.sub(lambda m: "_" + m[1].lower(), path) for path in text.split(",") if path]
    return field_mask_pb2.FieldMask(paths=paths)


def _encode_field_mask(message: Message, depth: int) -> object:
    assert isinstance(message, field_mask_pb2.FieldMask)
    return ",".join(_SNAKE.sub(lambda m: m[1].upper(), path) for path in message.paths)


def _native(value: object, depth: int) -> object:
    """Check a JSON value for ``Struct``/``Value``/``ListValue`` and return it as plain Python."""
    if value is None or value is True or value is False or isinstance(value, float):
        return value
    if isinstance(value, str):
        return check_string(value)
    if isinstance(value, int):
        return int_to_double(value)
    if isinstance(value, Decimal):
        return decimal_to_double(value)
    if depth > MAX_DEPTH:
        raise too_deep()
    if isinstance(value, (list, tuple)):
        items: list[object] = []
        try:
            for item in value:
                items.append(_native(item, depth + 1))
        except FieldError as err:
            err.parts.append(len(items))  # the index of the failing item
            raise
        return items
    if isinstance(value, Mapping):
        fields: dict[str, object] = {}
        for key, item in value.items():
            try:
                fields[check_string(key)] = _native(item, depth + 1)
            except FieldError as err:
                err.parts.append(key_segment(key))
                raise
        return fields
    raise FieldError(f"expected a JSON value, got {json_type(value)}")


def _decode_struct(value: object, strict: bool, depth: int) -> Message:
    if not isinstance(value, Mapping):
        raise FieldError(f"expected object, got {json_type(value)}")
    native = _native(value, depth)
    assert isinstance(native, dict)
    message = struct_pb2.Struct()
    message.update(native)
    return message


def _decode_list_value(value: object, strict: bool, depth: int) -> Message:
    if not isinstance(value, (list, tuple)):
        raise FieldError(f"expected array, got {json_type(value)}")
    native = _native(value, depth)
    assert isinstance(native, list)
    message = struct_pb2.ListValue()
    message.extend(native)
    return message


def _decode_value(value: object, strict: bool, depth: int) -> Message:
    native = _native(value, depth)
    if isinstance(native, dict):
        message = struct_pb2.Value()
        message.struct_value.update(native)
        return message
    if isinstance(native, list):
        message = struct_pb2.Value()
        message.list_value.extend(native)
        return message
    if native is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if isinstance(native, bool):
        return struct_pb2.Value(bool_value=native)
    if isinstance(native, float):
        return struct_pb2.Value(number_value=native)
    return struct_pb2.Value(string_value=str(native))


def _encode_value(message: Message, depth: int) -> object:
    assert isinstance(message, struct_pb2.Value)
    if depth > MAX_DEPTH:
        raise too_deep()
    kind = message.WhichOneof("kind")
    if kind == "struct_value":
        return _encode_struct(message.struct_value, depth + 1)
    if kind == "list_value":
        return _encode_list_value(message.list_value, depth + 1)
    if kind == "number_value":
        number = encode_double(message.number_value)
        if isinstance(number, str):
            raise FieldError(f"Value.number_value cannot be {number} in JSON")
        return number
    if kind == "string_value":
        return message.string_value
    if kind == "bool_value":
        return message.bool_value
    return None


def _encode_struct(message: Message, depth: int) -> object:
    assert isinstance(message, struct_pb2.Struct)
    out: dict[str, object] = {}
    for key, value in message.fields.items():
        try:
            out[key] = _encode_value(value, depth + 1)
        except FieldError as err:
            err.parts.append(f"[{describe(key)}]")
            raise
    return out


def _encode_list_value(message: Message, depth: int) -> object:
    assert isinstance(message, struct_pb2.ListValue)
    out: list[object] = []
    for index, value in enumerate(message.values):
        try:
            out.append(_encode_value(value, depth + 1))
        except FieldError as err:
            err.parts.append(index)
            raise
    return out


def _wrapper(cls: type[Message]) -> tuple[WktDecoder, WktEncoder]:
    field = cls.DESCRIPTOR.fields_by_name["value"]
    assert isinstance(field, FieldDescriptor)
    decode_value, encode_value = decoder_for(field), encoder_for(field)

    def decode(value: object, strict: bool, depth: int) -> Message:
        return cls(value=decode_value(value, strict))

    def encode(message: Message, depth: int) -> object:
        value: object = getattr(message, field.name)
        return value if encode_value is None else encode_value(value)

    return decode, encode


DECODERS: dict[str, WktDecoder] = {
    "google.protobuf.Duration": _decode_duration,
    "google.protobuf.Timestamp": _decode_timestamp,
    "google.protobuf.FieldMask": _decode_field_mask,
    "google.protobuf.Struct": _decode_struct,
    "google.protobuf.ListValue": _decode_list_value,
    "google.protobuf.Value": _decode_value,
}
"""JSON-value-to-message converters, by full message name."""

ENCODERS: dict[str, WktEncoder] = {
    "google.protobuf.Duration": _encode_duration,
    "google.protobuf.Timestamp": _encode_timestamp,
    "google.protobuf.FieldMask": _encode_field_mask,
    "google.protobuf.Struct": _encode_struct,
    "google.protobuf.ListValue": _encode_list_value,
    "google.protobuf.Value": _encode_value,
}
"""Message-to-JSON-value converters, by full message name."""

for _cls in (
    wrappers_pb2.DoubleValue,
    wrappers_pb2.FloatValue,
    wrappers_pb2.Int64Value,
    wrappers_pb2.UInt64Value,
    wrappers_pb2.Int32Value,
    wrappers_pb2.UInt32Value,
    wrappers_pb2.BoolValue,
    wrappers_pb2.StringValue,
    wrappers_pb2.BytesValue,
):
    DECODERS[_cls.DESCRIPTOR.full_name], ENCODERS[_cls.DESCRIPTOR.full_name] = _wrapper(_cls)
