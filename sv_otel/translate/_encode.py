"""Protobuf wire encoding of OTLP attributes and values, written by hand for speed.

Building OTLP messages field by field through the protobuf API costs ~35 us per event in Python;
writing the wire bytes directly, with every repeated attribute encoding cached, costs a tenth of
that. Only the few message shapes sv_otel emits are encoded here (``AnyValue``, ``KeyValue`` and
the envelopes in :mod:`.logs` and :mod:`.spans`); tests check every byte against the official
protobuf classes.

Wire format reminders: a field is ``tag = (number << 3) | wire_type`` followed by its payload;
``wire_type`` 0 is a varint, 1 eight little-endian bytes, 2 a varint length and that many bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from sv_otel.event import JSONValue

__all__ = ["AttributeEncoder", "encode_any", "field", "pack_fixed64", "varint"]

pack_fixed64: Callable[[int], bytes] = struct.Struct("<Q").pack
_pack_double: Callable[[float], bytes] = struct.Struct("<d").pack


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


_SMALL_VARINTS = tuple(_varint(n) for n in range(1 << 14))


def varint(value: int) -> bytes:
    """Encode a non-negative integer as a protobuf varint."""
    if value < 16384:
        return _SMALL_VARINTS[value]
    return _varint(value)


def field(tag: bytes, payload: bytes) -> bytes:
    """Encode a length-delimited field: ``tag``, the payload's length, the payload."""
    return tag + varint(len(payload)) + payload


def encode_any(value: JSONValue) -> bytes:
    """Encode a JSON value as the body of an OTLP ``AnyValue``.

    ``None`` becomes an ``AnyValue`` with no member set; ``bool`` is tested before ``int``.
    """
    kind = type(value)
    if kind is str:
        raw: bytes = value.encode()
        return b"\x0a" + varint(len(raw)) + raw
    if kind is bool:
        return b"\x10\x01" if value else b"\x10\x00"
    if kind is int:
        return b"\x18" + varint(value if value >= 0 else value + (1 << 64))
    if kind is float:
        return b"\x21" + _pack_double(value)
    if value is None:
        return b""
    if kind is dict:
        body = b"".join([field(b"\x0a", _key_value(key, item)) for key, item in value.items()])
        return field(b"\x32", body)
    if kind is list:
        return field(b"\x2a", b"".join([field(b"\x0a", encode_any(item)) for item in value]))
    if kind is bytes:
        return field(b"\x3a", value)
    raise TypeError(f"cannot encode {kind.__name__} as an OTLP AnyValue")


def _key_value(key: str, value: JSONValue) -> bytes:
    raw = key.encode()
    return b"\x0a" + varint(len(raw)) + raw + field(b"\x12", encode_any(value))


_CACHE_LIMIT = 65_536


class AttributeEncoder:
    """Encodes ``KeyValue`` attributes as complete fields of one containing message.

    Args:
        tag: the tag byte of the ``attributes`` field in the container (``b"\\x32"`` for
            ``LogRecord``, ``b"\\x4a"`` for ``Span``, ``b"\\x1a"`` for ``Span.Event``).

    String values repeat a lot (session ids, URLs, browser names), so their whole encoded field
    is cached per key; the cache is emptied when it holds more than 65 536 entries.
    """

    __slots__ = ("_cache", "_keys", "_size", "_tag")

    def __init__(self, tag: bytes) -> None:
        self._tag = tag
        self._keys: dict[str, bytes] = {}
        self._cache: dict[str, dict[str, bytes]] = {}
        self._size = 0

    def encode(self, key: str, value: JSONValue) -> bytes:
        """Return the complete attribute field for ``key: value``."""
        if type(value) is str:
            by_value = self._cache.get(key)
            if by_value is None:
                by_value = self._cache[key] = {}
            cached = by_value.get(value)
            if cached is not None:
                return cached
            if self._size >= _CACHE_LIMIT:
                self._cache.clear()
                self._keys.clear()
                self._size = 0
                by_value = self._cache[key] = {}
            encoded = by_value[value] = self._field(key, value)
            self._size += 1
            return encoded
        return self._field(key, value)

    def _field(self, key: str, value: JSONValue) -> bytes:
        prefix = self._keys.get(key)
        if prefix is None:
            raw = key.encode()
            prefix = self._keys[key] = b"\x0a" + varint(len(raw)) + raw
        body = prefix + field(b"\x12", encode_any(value))
        return self._tag + varint(len(body)) + body
