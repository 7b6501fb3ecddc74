"""Converters from protobuf scalar field values to JSON values, one per field type.

The output half of the rules in :mod:`~sv_otel.otlp_json._decode_scalars` (which holds the
converters the other way, and :data:`~sv_otel.otlp_json._decode_scalars.HEX_ID_CHARS`, the
``bytes`` fields written as hex): 64-bit integers become decimal strings, non-finite doubles
``"NaN"``/``"Infinity"``/``"-Infinity"``, ``float`` fields the shortest decimal that reads back
as the same float32, other ``bytes`` standard base64; every other value is written as it is.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable

from google.protobuf.descriptor import FieldDescriptor

from sv_otel.otlp_json._decode_scalars import HEX_ID_CHARS
from sv_otel.otlp_json._path import FieldError

__all__ = ["Encoder", "encode_double", "encoder_for"]

Encoder = Callable[[object], object]
"""Converts a field value to its JSON value."""

_T = FieldDescriptor

_INT64_TYPES = frozenset(
    {_T.TYPE_INT64, _T.TYPE_SINT64, _T.TYPE_SFIXED64, _T.TYPE_UINT64, _T.TYPE_FIXED64}
)


def encode_double(value: object) -> object:
    """Return a double as a JSON number, or ``"NaN"``/``"Infinity"``/``"-Infinity"``."""
    if not isinstance(value, float) or value - value == 0.0:
        return value
    if value != value:
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def _encode_float(value: object) -> object:
    """Return a float32 value as the shortest decimal that reads back as the same float32."""
    if not isinstance(value, float) or value - value != 0.0:
        return encode_double(value)
    for digits in range(1, 10):
        shortest = float(f"{value:.{digits}g}")
        try:
            if struct.unpack("<f", struct.pack("<f", shortest))[0] == value:
                return shortest
        except OverflowError:  # rounded up past the largest float32
            continue
    return value


def _encode_int64(value: object) -> object:
    return str(value)


def _encode_bytes(value: object) -> object:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def _hex_encoder(chars: int) -> Encoder:
    size = chars // 2

    def encode(value: object) -> object:
        if not isinstance(value, bytes):
            return value
        if len(value) == size:
            return value.hex()
        # As hex this would be JSON that no receiver accepts (nor binary, in the Collector).
        raise FieldError(f"expected {size} bytes, got {len(value)}")

    return encode


def encoder_for(field: FieldDescriptor) -> Encoder | None:
    """Return the value-to-JSON converter of a scalar field, or ``None`` if the value is as-is."""
    kind = field.type
    if kind == _T.TYPE_BYTES:
        chars = HEX_ID_CHARS.get(field.name)
        return _encode_bytes if chars is None else _hex_encoder(chars)
    if kind in _INT64_TYPES:
        return _encode_int64
    if kind == _T.TYPE_DOUBLE:
        return encode_double
    if kind == _T.TYPE_FLOAT:
        return _encode_float
    return None
