"""Protobuf wire decoding of OTLP requests, written by hand for speed.

Walking upb messages attribute by attribute costs ~1 us per attribute in Python; reading the wire
bytes directly, and caching the decoded form of every repeated ``KeyValue``, costs a fraction of
that. Every length is checked against its enclosing message, so truncated or hostile input raises
:class:`~sv_otel.errors.InvalidOTLPError` instead of reading past the end.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterator

from sv_otel.attributes import ENDUSER_PSEUDO_ID, SESSION_ID, USER_ID, property_key
from sv_otel.errors import InvalidOTLPError, ValueTooDeepError
from sv_otel.event import Event, JSONValue
from sv_otel.translate._encode import CACHE_BYTES, ENTRY_BYTES

__all__ = [
    "MALFORMED",
    "MAX_VALUE_DEPTH",
    "SLOT_ANONYMOUS_ID",
    "SLOT_PROPERTY",
    "SLOT_SESSION_ID",
    "SLOT_USER_ID",
    "Attribute",
    "decode_any",
    "decode_attribute",
    "double",
    "fixed64",
    "iter_fields",
    "malformed",
    "own_event",
    "read_varint",
    "skip_field",
]

fixed64: Callable[[bytes, int], tuple[int]] = struct.Struct("<Q").unpack_from
double: Callable[[bytes, int], tuple[float]] = struct.Struct("<d").unpack_from

MAX_VALUE_DEPTH = 64
"""Deepest ``AnyValue`` nesting read before the request is refused."""

SLOT_PROPERTY = 0
SLOT_SESSION_ID = 1
SLOT_USER_ID = 2
SLOT_ANONYMOUS_ID = 3
_SLOTS = {SESSION_ID: SLOT_SESSION_ID, USER_ID: SLOT_USER_ID, ENDUSER_PSEUDO_ID: SLOT_ANONYMOUS_ID}

Attribute = tuple[str, int, str, JSONValue]
"""A decoded ``KeyValue``: (attribute key, slot, event property key, JSON value)."""


MALFORMED = (IndexError, UnicodeDecodeError)
"""What reading past the end of the buffer or undecodable text raises inside the readers.

Entry points catch these and raise :class:`InvalidOTLPError` (see :func:`malformed`)."""


def malformed(error: Exception) -> InvalidOTLPError:
    """The :class:`InvalidOTLPError` for a low-level decoding failure."""
    if isinstance(error, UnicodeDecodeError):
        return InvalidOTLPError("protobuf: a string field is not valid UTF-8")
    return InvalidOTLPError("protobuf: truncated message")


def read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    """Read a varint at ``pos``; return (value, position after it)."""
    byte = buf[pos]
    if byte < 0x80:
        return byte, pos + 1
    value = byte & 0x7F
    shift = 7
    while True:
        pos += 1
        byte = buf[pos]
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos + 1
        shift += 7
        if shift > 63:
            raise InvalidOTLPError("protobuf: varint longer than 10 bytes")


def iter_fields(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(field number, wire type, a, b)`` for each field in ``buf[pos:end]``.

    For varints ``a`` is the value and ``b`` is 0; for every other wire type ``a, b`` are the
    payload's start and end (read fixed-width numbers with :data:`fixed64` / :data:`double`).
    """
    while pos < end:
        tag, pos = read_varint(buf, pos)
        if tag < 8:
            raise InvalidOTLPError("protobuf: field number 0 is not valid")
        wire = tag & 7
        if wire == 2:
            length, pos = read_varint(buf, pos)
            stop = pos + length
            if stop > end:
                raise InvalidOTLPError("protobuf: a field runs past the end of its message")
            yield tag >> 3, 2, pos, stop
            pos = stop
        elif wire == 0:
            value, pos = read_varint(buf, pos)
            yield tag >> 3, 0, value, 0
        elif wire == 1:
            if pos + 8 > end:
                raise InvalidOTLPError("protobuf: truncated 64-bit field")
            yield tag >> 3, 1, pos, pos + 8
            pos += 8
        elif wire == 5:
            if pos + 4 > end:
                raise InvalidOTLPError("protobuf: truncated 32-bit field")
            yield tag >> 3, 5, pos, pos + 4
            pos += 4
        elif wire == 3:
            # A group: no OTLP field is one, so it is an unknown field, skipped as parsers do.
            pos = _skip_group(buf, pos, end, tag >> 3)
        elif wire == 4:
            raise InvalidOTLPError("protobuf: an end-group tag without its start-group tag")
        else:
            raise InvalidOTLPError(f"protobuf: unsupported wire type {wire}")
    if pos != end:
        raise InvalidOTLPError("protobuf: a field runs past the end of its message")


def skip_field(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Skip the field whose tag is at ``pos``; return (its field number, the position after it)."""
    tag, after = read_varint(buf, pos)
    if tag < 8:
        raise InvalidOTLPError("protobuf: field number 0 is not valid")
    wire = tag & 7
    if wire == 0:
        after = read_varint(buf, after)[1]
    elif wire == 1:
        after += 8
    elif wire == 2:
        length, after = read_varint(buf, after)
        after += length
    elif wire == 5:
        after += 4
    elif wire == 3:
        after = _skip_group(buf, after, end, tag >> 3)
    elif wire == 4:
        raise InvalidOTLPError("protobuf: an end-group tag without its start-group tag")
    else:
        raise InvalidOTLPError(f"protobuf: unsupported wire type {wire}")
    if after > end:
        raise InvalidOTLPError("protobuf: a field runs past the end of its message")
    return tag >> 3, after


def _skip_group(buf: bytes, pos: int, end: int, number: int) -> int:
    """Skip a group's fields (nested groups included); return the position after its end tag."""
    open_groups = [number]
    while pos < end:
        tag, after = read_varint(buf, pos)
        wire = tag & 7
        if wire == 3 and tag >= 8:
            open_groups.append(tag >> 3)
            pos = after
        elif wire == 4 and tag >= 8:
            if open_groups.pop() != tag >> 3:
                raise InvalidOTLPError("protobuf: a group ends with another field's end tag")
            if not open_groups:
                return after
            pos = after
        else:
            pos = skip_field(buf, pos, end)[1]
    raise InvalidOTLPError("protobuf: a group runs past the end of its message")


def decode_any(buf: bytes, pos: int, end: int, depth: int = 0) -> JSONValue:
    """Decode an ``AnyValue`` body into JSON (``bytes_value`` becomes base64 text)."""
    if depth > MAX_VALUE_DEPTH:
        raise ValueTooDeepError(f"AnyValue: nested deeper than {MAX_VALUE_DEPTH} levels")
    value: JSONValue = None
    for number, wire, a, b in iter_fields(buf, pos, end):
        if number == 1 and wire == 2:
            value = _text(buf, a, b)
        elif number == 2 and wire == 0:
            value = a != 0
        elif number == 3 and wire == 0:
            value = a - (1 << 64) if a >= 1 << 63 else a
        elif number == 4 and wire == 1:
            value = double(buf, a)[0]
        elif number == 5 and wire == 2:
            value = [
                decode_any(buf, s, e, depth + 1)
                for n, w, s, e in iter_fields(buf, a, b)
                if n == 1 and w == 2
            ]
        elif number == 6 and wire == 2:
            value = {}
            for n, w, s, e in iter_fields(buf, a, b):
                if n == 1 and w == 2:
                    key, item = _key_and_value(buf, s, e, depth + 1)
                    value[key] = item
        elif number == 7 and wire == 2:
            value = base64.b64encode(buf[a:b]).decode()
    return value


def _key_and_value(buf: bytes, pos: int, end: int, depth: int) -> tuple[str, JSONValue]:
    key = ""
    value: JSONValue = None
    for number, wire, a, b in iter_fields(buf, pos, end):
        if number == 1 and wire == 2:
            key = _text(buf, a, b)
        elif number == 2 and wire == 2:
            value = decode_any(buf, a, b, depth)
    return key, value


def _text(buf: bytes, start: int, end: int) -> str:
    try:
        return buf[start:end].decode()
    except UnicodeDecodeError:
        raise InvalidOTLPError("protobuf: a string field is not valid UTF-8") from None


_CACHED_BYTES = 512
"""The longest encoded attribute cached."""
_CACHE_BYTES = 8 * CACHE_BYTES
"""What the cache may take, 32 MiB: more than an encoder's, since 4 MiB thrashed on the
benchmark corpus."""
_cache: dict[bytes, Attribute] = {}
_cache_bytes = 0
"""What ``_cache`` takes, estimated: three times each entry's bytes plus two ENTRY_BYTES."""


def decode_attribute(buf: bytes, start: int, end: int) -> Attribute:
    """Decode the ``KeyValue`` in ``buf[start:end]`` and map its key to the event side.

    Attributes with a scalar value are cached by their encoded bytes (the same session id, URL or
    browser name arrives thousands of times), up to 512 bytes long, and the cache is emptied when
    it takes more than 32 MiB; object and array values are decoded afresh so that no two events
    share a mutable value.
    """
    global _cache_bytes
    raw = buf[start:end]
    hit = _cache.get(raw)
    if hit is not None:
        return hit
    key, value = _key_and_value(buf, start, end, 0)
    attribute = (key, _SLOTS.get(key, SLOT_PROPERTY), property_key(key), value)
    if type(value) is not dict and type(value) is not list and end - start <= _CACHED_BYTES:
        if _cache_bytes >= _CACHE_BYTES:
            _cache.clear()
            _cache_bytes = 0
        _cache[raw] = attribute
        _cache_bytes += 3 * len(raw) + 2 * ENTRY_BYTES
    return attribute


def own_event(
    name: str,
    timestamp: int,
    props: dict[str, JSONValue],
    session_id: JSONValue,
    user_id: JSONValue,
    anonymous_id: JSONValue,
) -> Event | None:
    """The event of a record or span event sv_otel wrote, from the parts its reader found.

    None when the parts cannot be one of ours (no name, or an id that is not a string): the
    caller then reads the telemetry as backend telemetry.
    """
    if (
        not name
        or type(session_id) is not str
        or (user_id is not None and type(user_id) is not str)
        or (anonymous_id is not None and type(anonymous_id) is not str)
    ):
        return None
    return Event(
        event=name,
        timestamp=timestamp,
        properties=props,
        anonymous_id=anonymous_id,
        user_id=user_id,
        session_id=session_id,
    )
