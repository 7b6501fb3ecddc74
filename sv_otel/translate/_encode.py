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
from typing import Final

from sv_otel.event import JSONValue

__all__ = [
    "CACHED_CHARS",
    "CACHE_BYTES",
    "ENTRY_BYTES",
    "AttributeEncoder",
    "encode_any",
    "field",
    "pack_fixed64",
    "varint",
]

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


CACHE_BYTES: Final = 4 * 1024 * 1024
"""The memory any translation cache may take (estimated as :data:`ENTRY_BYTES` an entry plus
twice its encoded bytes); past it the cache is emptied, so memory stays bounded whatever the
input."""

ENTRY_BYTES: Final = 128
"""What a cache entry takes beyond its bytes: object headers and its dict slot."""

CACHED_CHARS: Final = 256
"""The longest string (key, value, name or id) any translation cache keeps: longer ones are
encoded afresh each time (long values rarely repeat, and their encoding costs little beside
their size)."""


def _same_key(key: str) -> str:
    return key


class _Key:
    """Everything cached for one key: its ``KeyValue.key`` field and its encoded values."""

    __slots__ = ("double_head", "false", "field", "ints", "strings", "true")

    def __init__(self, tag: bytes, attribute: str) -> None:
        self.field = _key_field(attribute)
        # A double is always a 9-byte AnyValue, so everything before its 8 bytes is fixed.
        self.double_head = tag + varint(len(self.field) + 11) + self.field + b"\x12\x09\x21"
        self.true = _complete(tag, self.field, b"\x10\x01")
        self.false = _complete(tag, self.field, b"\x10\x00")
        self.strings: dict[str, bytes] = {}
        self.ints: dict[int, bytes] = {}


def _key_field(attribute: str) -> bytes:
    raw = attribute.encode()
    return b"\x0a" + varint(len(raw)) + raw


def _complete(tag: bytes, key_field: bytes, any_value: bytes) -> bytes:
    body = key_field + b"\x12" + varint(len(any_value)) + any_value
    return tag + varint(len(body)) + body


class AttributeEncoder:
    """Encodes ``KeyValue`` attributes as complete fields of one containing message.

    Args:
        tag: the tag byte of the ``attributes`` field in the container (``b"\\x32"`` for
            ``LogRecord``, ``b"\\x4a"`` for ``Span``, ``b"\\x1a"`` for ``Span.Event``).
        rename: maps the key given to :meth:`encode` to the attribute key written, e.g.
            :func:`sv_otel.attributes.attribute_key` to encode event properties; default: none.

    Values repeat a lot (session ids, URLs, browser names, small counts), so the whole encoded
    field of every string and integer value is cached per key, and a double only needs its eight
    bytes appended to a cached head. Keys and strings longer than :data:`CACHED_CHARS` are
    not cached, and the caches are emptied when they take more than :data:`CACHE_BYTES`, so
    memory stays bounded whatever the input.
    """

    __slots__ = ("_bytes", "_keys", "_rename", "_tag")

    def __init__(self, tag: bytes, rename: Callable[[str], str] = _same_key) -> None:
        self._tag = tag
        self._rename = rename
        self._keys: dict[str, _Key] = {}
        self._bytes = 0

    def encode(self, key: str, value: JSONValue) -> bytes:
        """Return the complete attribute field for ``key: value``."""
        entry = self._keys.get(key)
        if entry is None:
            if len(key) > CACHED_CHARS:
                return _complete(self._tag, _key_field(self._rename(key)), encode_any(value))
            entry = self._add_key(key)
        kind = type(value)
        if kind is str:
            cached = entry.strings.get(value)
            if cached is None:
                if len(value) > CACHED_CHARS:
                    return _complete(self._tag, entry.field, encode_any(value))
                cached = self._remember(entry, key, value)
            return cached
        if kind is float:
            return entry.double_head + _pack_double(value)
        if kind is bool:
            return entry.true if value else entry.false
        if kind is int:
            cached = entry.ints.get(value)
            if cached is None:
                cached = self._remember(entry, key, value)
            return cached
        return _complete(self._tag, entry.field, encode_any(value))

    def _add_key(self, key: str) -> _Key:
        if self._bytes >= CACHE_BYTES:
            self._forget()
        entry = self._keys[key] = _Key(self._tag, self._rename(key))
        self._bytes += 8 * len(entry.field) + 6 * ENTRY_BYTES  # its four fields, two dicts
        return entry

    def _remember(self, entry: _Key, key: str, value: JSONValue) -> bytes:
        encoded = _complete(self._tag, entry.field, encode_any(value))
        if self._bytes >= CACHE_BYTES:
            self._forget()
            entry = self._add_key(key)
        if type(value) is str:
            entry.strings[value] = encoded
        else:
            entry.ints[value] = encoded
        self._bytes += 2 * len(encoded) + ENTRY_BYTES
        return encoded

    def _forget(self) -> None:
        self._keys.clear()
        self._bytes = 0
