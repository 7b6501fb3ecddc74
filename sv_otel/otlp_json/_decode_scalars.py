"""Converters from JSON values to protobuf scalar field values, one per field type.

Each converter takes ``(value, strict_ids)`` and returns what the generated message constructor
accepts (``int``, ``float``, ``str``, ``bytes``, ``bool``); it raises
:class:`~sv_otel.otlp_json._path.FieldError` with an "expected X, got Y" text. The converters
the other way, from field values to JSON values, are in
:mod:`~sv_otel.otlp_json._encode_scalars`. Rules (proto3 JSON mapping plus OTLP):

* 64-bit integers are decimal strings on output; strings or numbers on input;
* 32-bit integers are numbers on output; numbers or numeric strings on input;
* ``double``/``float`` are numbers, with ``"NaN"``, ``"Infinity"``, ``"-Infinity"`` for the
  non-finite values (Go's spellings such as ``"+Inf"``, in any letter case, are read too);
* ``bytes`` are standard base64 (URL-safe and unpadded input accepted, line breaks skipped),
  except the OTLP id fields in :data:`HEX_ID_CHARS`, which are hex.
"""

from __future__ import annotations

import base64
import binascii
import decimal
import math
import re
import struct
from collections.abc import Callable

from google.protobuf.descriptor import EnumDescriptor, FieldDescriptor

from sv_otel.otlp_json._path import FieldError, describe, json_type, show_number
from sv_otel.otlp_json._text import inexact_float, integer_zero

__all__ = [
    "HEX_ID_CHARS",
    "Decoder",
    "check_string",
    "decimal_to_double",
    "decoder_for",
    "int_to_double",
]

Decoder = Callable[[object, bool], object]
"""Converts a JSON value (not ``None``) to a field value; the flag is ``strict_ids``."""

HEX_ID_CHARS: dict[str, int] = {
    "trace_id": 32,
    "span_id": 16,
    "parent_span_id": 16,
    "profile_id": 32,
}
"""``bytes`` fields, by name in any message, that are hex strings of this length (not base64)."""

_INT_TEXT = re.compile(r"-?[0-9]+\Z")
_NUMBER_TEXT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?\Z")
_SPECIAL_FLOATS = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Also read, in any letter case, as the Collector does (Go's strconv.ParseFloat): older Collectors
# wrote "+Inf" and "-Inf".
_GO_SPECIAL_FLOATS = {
    "nan": math.nan,
    **{
        f"{sign}{name}": -math.inf if sign == "-" else math.inf
        for sign in ("", "+", "-")
        for name in ("inf", "infinity")
    },
}
_T = FieldDescriptor

_INT_RANGES: dict[int, tuple[str, int, int]] = {
    _T.TYPE_INT32: ("int32", -(2**31), 2**31 - 1),
    _T.TYPE_SINT32: ("sint32", -(2**31), 2**31 - 1),
    _T.TYPE_SFIXED32: ("sfixed32", -(2**31), 2**31 - 1),
    _T.TYPE_UINT32: ("uint32", 0, 2**32 - 1),
    _T.TYPE_FIXED32: ("fixed32", 0, 2**32 - 1),
    _T.TYPE_INT64: ("int64", -(2**63), 2**63 - 1),
    _T.TYPE_SINT64: ("sint64", -(2**63), 2**63 - 1),
    _T.TYPE_SFIXED64: ("sfixed64", -(2**63), 2**63 - 1),
    _T.TYPE_UINT64: ("uint64", 0, 2**64 - 1),
    _T.TYPE_FIXED64: ("fixed64", 0, 2**64 - 1),
}


def check_string(value: object, strict: bool = True) -> str:
    """Return ``value`` if it is a string that can be stored as UTF-8, else raise FieldError.

    Args:
        value: A JSON value.
        strict: Unused; present so that this is a :data:`Decoder` too.
    """
    if not isinstance(value, str):
        raise FieldError(f"expected string, got {json_type(value)}")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise FieldError("invalid string: lone surrogate character") from None
    return value


def _to_int(value: object, label: str) -> int:
    """Parse an integer given as a JSON number or string (only checked against 40 digits).

    ``label`` names the type in the message of a number of 40 digits or more, out of range of
    every integer type (and not worth building). Non-integers are refused, exactly: a ``float``
    is taken by its shortest text (``1e23`` is 10**23), and in ``decode_json`` the conversion
    starts again from the JSON text (see :func:`~sv_otel.otlp_json._text.inexact_float`).
    """
    if isinstance(value, str):
        if _INT_TEXT.match(value):
            if len(value) <= 40:
                return int(value)
            return _decimal_to_int(decimal.Decimal(value), label, describe(value))
        if _NUMBER_TEXT.match(value):
            return _decimal_to_int(decimal.Decimal(value), label, describe(value))
        raise FieldError(f"expected integer, got {describe(value)}")
    if isinstance(value, bool):
        raise FieldError("expected integer, got boolean")
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        inexact_float()
        if not math.isfinite(value):
            raise FieldError(f"expected integer, got {value!r}")
        return _decimal_to_int(decimal.Decimal(repr(value)), label, repr(value))
    if isinstance(value, decimal.Decimal):
        return _decimal_to_int(value, label, show_number(value))
    raise FieldError(f"expected integer, got {json_type(value)}")


def _decimal_to_int(number: decimal.Decimal, label: str, shown: str) -> int:
    if number.is_finite():
        if not number:
            return 0  # whatever the exponent: 0e999999999
        if number.adjusted() >= 40:
            raise FieldError(f"out of range for {label}: {show_number(number)}")
        if number == number.to_integral_value():
            return int(number)
    raise FieldError(f"expected integer, got {shown}")


def _int_decoder(label: str, low: int, high: int) -> Decoder:
    def decode(value: object, strict: bool) -> object:
        if type(value) is int:
            number = value
        elif type(value) is str and len(value) <= 20 and value.isdigit() and value.isascii():
            number = int(value)  # the usual 64-bit string, e.g. "1544712660300000000"
        else:
            number = _to_int(value, label)
        if low <= number <= high:
            return number
        raise FieldError(f"out of range for {label}: {show_number(number)}")

    return decode


def _to_double(value: object) -> float:
    if isinstance(value, str):
        special = _SPECIAL_FLOATS.get(value)
        if special is None and len(value) <= 9:
            special = _GO_SPECIAL_FLOATS.get(value.lower())
        if special is not None:
            return special
        if _NUMBER_TEXT.match(value):
            number = float(value)
            if not math.isinf(number):
                return number
            raise FieldError(f"out of range for double: {describe(value)}")
        raise FieldError(f"expected number, got {describe(value)}")
    if isinstance(value, bool):
        raise FieldError("expected number, got boolean")
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return int_to_double(value)
    if isinstance(value, decimal.Decimal):
        return decimal_to_double(value)
    raise FieldError(f"expected number, got {json_type(value)}")


def int_to_double(value: int) -> float:
    """Return a JSON integer as a double; FieldError if it is beyond the double range."""
    if value == 0:
        integer_zero()  # decode_json: was it written -0?
    try:
        return float(value)
    except OverflowError:
        raise FieldError(f"out of range for double: {show_number(value)}") from None


def decimal_to_double(value: decimal.Decimal) -> float:
    """Return the nearest double to a ``Decimal``; FieldError if that is infinite (or sNaN)."""
    try:
        number = float(value)
    except ValueError:  # a signalling NaN
        raise FieldError(f"expected number, got {value}") from None
    if math.isinf(number) and value.is_finite():
        raise FieldError(f"out of range for double: {show_number(value)}")
    return number


def _decode_double(value: object, strict: bool) -> object:
    return value if type(value) is float else _to_double(value)


def _decode_float(value: object, strict: bool) -> object:
    number = _to_double(value)
    try:
        struct.pack("<f", number)  # rounds to the nearest float32, as protobuf will
    except OverflowError:  # rounds to infinity: past the largest float32 by over half a step
        raise FieldError(f"out of range for float: {show_number(number)}") from None
    return number


def _decode_bool(value: object, strict: bool) -> object:
    if value is True or value is False:
        return value
    raise FieldError(f"expected boolean, got {json_type(value)}")


def _decode_bytes(value: object, strict: bool) -> object:
    text = check_string(value)
    try:
        return base64.b64decode(text, validate=True)  # the usual: standard alphabet, padded
    except (binascii.Error, ValueError):
        pass
    if "\n" in text or "\r" in text:  # skipped by Go's decoders (protojson's, the Collector's)
        text = text.replace("\r", "").replace("\n", "")
    url_safe = "-" in text or "_" in text
    body = text.rstrip("=")
    padding = len(text) - len(body)
    # One alphabet; no padding, or exactly the padding that completes the last group of four.
    if (
        not (url_safe and ("+" in body or "/" in body))
        and len(body) % 4 != 1
        and padding in (0, -len(body) % 4)
    ):
        if url_safe:
            body = body.replace("-", "+").replace("_", "/")
        try:
            return base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
        except (binascii.Error, ValueError):
            pass
    raise FieldError(f"invalid base64: {describe(str(value))}")


def _hex_decoder(chars: int) -> Decoder:
    size = chars // 2

    def decode(value: object, strict: bool) -> object:
        text = check_string(value)
        if len(text) == chars:
            # bytes.fromhex skips whitespace; 'size' bytes from 'chars' characters rules that out.
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raw = b""
            if len(raw) == size:
                return raw
        elif not text:
            return b""
        if strict:
            raise FieldError(f"expected {chars} hex characters, got {describe(text)}")
        return b""

    return decode


def _enum_decoder(enum: EnumDescriptor) -> Decoder:
    by_name = {value.name: value.number for value in enum.values}
    closed = bool(getattr(enum, "is_closed", False))
    numbers = frozenset(by_name.values())
    label = enum.name

    def decode(value: object, strict: bool) -> object:
        if isinstance(value, str) and value in by_name:
            return by_name[value]
        if isinstance(value, str) and not _INT_TEXT.match(value):
            raise FieldError(f"unknown {label} value {describe(value)}")
        number = value if type(value) is int else _to_int(value, label)
        if not -(2**31) <= number < 2**31:
            raise FieldError(f"out of range for {label}: {show_number(number)}")
        if closed and number not in numbers:
            raise FieldError(f"unknown {label} value {number}")
        return number

    return decode


def decoder_for(field: FieldDescriptor) -> Decoder:
    """Return the JSON-to-value converter for a scalar (non-message) field."""
    kind = field.type
    if kind == _T.TYPE_BYTES:
        chars = HEX_ID_CHARS.get(field.name)
        return _decode_bytes if chars is None else _hex_decoder(chars)
    if kind in _INT_RANGES:
        return _int_decoder(*_INT_RANGES[kind])
    if kind == _T.TYPE_ENUM and field.enum_type is not None:
        return _enum_decoder(field.enum_type)
    simple: dict[int, Decoder] = {
        _T.TYPE_DOUBLE: _decode_double,
        _T.TYPE_FLOAT: _decode_float,
        _T.TYPE_BOOL: _decode_bool,
        _T.TYPE_STRING: check_string,
    }
    if kind in simple:
        return simple[kind]
    raise TypeError(f"unsupported field type {kind} of {field.full_name}")
