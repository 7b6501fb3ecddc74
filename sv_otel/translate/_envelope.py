"""The parts shared by the log and trace requests: resource, scope, and the session header.

``ExportLogsServiceRequest`` and ``ExportTraceServiceRequest`` have the same envelope shape
(request -> resource_* (1) -> {resource (1), scope_* (2)} -> {scope (1), records (2)}), so one
function writes both and one reads both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from sv_otel.attributes import SCOPE_NAME, SERVICE_NAME
from sv_otel.errors import InvalidOTLPError, ValueTooDeepError
from sv_otel.event import JSONValue
from sv_otel.translate._decode import (
    MALFORMED,
    MAX_VALUE_DEPTH,
    decode_any,
    iter_fields,
    malformed,
    read_varint,
    skip_field,
)
from sv_otel.translate._encode import AttributeEncoder, field, varint
from sv_otel.translate.stats import TranslationStats

__all__ = [
    "DEFAULT_RESOURCE",
    "ResourceLike",
    "Scope",
    "count_records",
    "encode_request",
    "iter_scopes",
    "resource_attributes",
]

DEFAULT_RESOURCE: Mapping[str, JSONValue] = {SERVICE_NAME: "sessionvision"}
"""Resource attributes used when the caller gives none."""


class ResourceLike(Protocol):
    """Anything with resource ``attributes``, such as ``opentelemetry.sdk.resources.Resource``."""

    @property
    def attributes(self) -> Mapping[str, object]: ...


_DEEP_RESOURCE = f"its resource has an attribute nested deeper than {MAX_VALUE_DEPTH} levels"

_RESOURCE_ATTRIBUTE = AttributeEncoder(b"\x0a")
_SCOPE = field(b"\x0a", field(b"\x0a", SCOPE_NAME.encode()))


def resource_attributes(
    resource: ResourceLike | Mapping[str, object] | None,
) -> Mapping[str, object]:
    """Normalise the ``resource`` argument of the translators to a mapping of attributes."""
    if resource is None:
        return DEFAULT_RESOURCE
    if isinstance(resource, Mapping):
        return resource
    return resource.attributes


def encode_request(
    records: list[bytes], size: int, resource: ResourceLike | Mapping[str, object] | None
) -> bytes:
    """Wrap encoded records into a one-resource request, copying them once.

    Args:
        records: the encoded records, each already a complete ``records = 2`` field, possibly
            split over several pieces.
        size: the total length of ``records`` in bytes.
        resource: the resource, as given to the translators.
    """
    attributes = resource_attributes(resource)
    resource_body = b"".join(
        [_RESOURCE_ATTRIBUTE.encode(key, _plain(value)) for key, value in attributes.items()]
    )
    resource_field = field(b"\x0a", resource_body)
    scoped_size = len(_SCOPE) + size
    scoped_head = b"\x12" + varint(scoped_size)
    body_size = len(resource_field) + len(scoped_head) + scoped_size
    return b"".join([b"\x0a", varint(body_size), resource_field, scoped_head, _SCOPE, *records])


def _plain(value: object) -> JSONValue:
    """SDK attribute values may be tuples; OTLP arrays are lists."""
    return list(value) if isinstance(value, tuple) else value


class Scope:
    """One ``Scope*`` block of a request: its resource's attributes, its name, and its records.

    ``records`` yields the records' positions as it is iterated: a request of millions of empty
    records (two bytes each) must not cost a list of millions of positions before any is read.
    """

    __slots__ = ("name", "records", "resource")

    def __init__(
        self, resource: dict[str, JSONValue], name: str, records: Iterator[tuple[int, int]]
    ):
        self.resource = resource
        self.name = name
        self.records = records


def iter_scopes(buf: bytes, stats: TranslationStats, noun: str) -> Iterator[Scope]:
    """Yield every scope block of an OTLP logs or traces request, with record positions.

    Also reads the deprecated ``instrumentation_library_*`` blocks (field 1000) that old SDKs
    still send: they have the scope block's shape. Nothing is collected ahead: a block's
    resource and scope name are found by a step over its fields that reads only lengths (they
    may come before or after the records), then its records are yielded one at a time.

    A resource with an attribute nested deeper than the readers follow costs its own records,
    not the request: they are rejected into ``stats`` (as ``"{noun}: ..."``) and its blocks are
    not yielded, and the other resources' records are still read.
    """
    resource: dict[str, JSONValue] | None = {}
    resource_at = -1
    for start, end, a, b in _scope_blocks(buf):
        if start != resource_at:  # the first scope block of a Resource* block
            resource_at = start
            try:
                resource = _resource(buf, start, end)
            except ValueTooDeepError:
                resource = None
        if resource is None:
            for _ in _records(buf, a, b):
                stats.reject(f"{noun}: {_DEEP_RESOURCE}")
        else:
            yield Scope(resource, _scope_name(buf, a, b), _records(buf, a, b))


def count_records(buf: bytes) -> int:
    """The number of records (log records or spans) of an OTLP logs or traces request.

    A step over the request that reads nothing but lengths, so that what converting it will
    take can be known before it is converted.

    Raises:
        InvalidOTLPError: the bytes are not a valid protobuf message.
    """
    try:
        return sum(_count_records(buf, a, b) for _, _, a, b in _scope_blocks(buf))
    except MALFORMED as error:
        raise malformed(error) from None


def _scope_blocks(buf: bytes) -> Iterator[tuple[int, int, int, int]]:
    """Yield ``(resource block start, its end, scope block start, its end)`` for every scope
    block (field 2, or the deprecated 1000) of every ``Resource*`` block (field 1)."""
    for number, wire, start, end in iter_fields(buf, 0, len(buf)):
        if number == 1 and wire == 2:
            for inner, inner_wire, a, b in iter_fields(buf, start, end):
                if inner_wire == 2 and (inner == 2 or inner == 1000):
                    yield start, end, a, b


def _resource(buf: bytes, start: int, end: int) -> dict[str, JSONValue]:
    """The attributes of a ``Resource*`` block's resource (field 1), wherever it is."""
    resource: dict[str, JSONValue] = {}
    for a, b in _fields(buf, start, end, 1):
        resource = _attributes(buf, a, b, 1)
    return resource


def _fields(buf: bytes, start: int, end: int, number: int) -> Iterator[tuple[int, int]]:
    """Yield the positions of every length-delimited field ``number`` in ``buf[start:end]``."""
    for n, wire, a, b in iter_fields(buf, start, end):
        if n == number and wire == 2:
            yield a, b


def _attributes(buf: bytes, start: int, end: int, number: int) -> dict[str, JSONValue]:
    out: dict[str, JSONValue] = {}
    for n, wire, a, b in iter_fields(buf, start, end):
        if n == number and wire == 2:
            key: str | None = None
            value: JSONValue = None
            for kn, kw, s, e in iter_fields(buf, a, b):
                if kn == 1 and kw == 2:
                    key = buf[s:e].decode("utf-8", "replace")
                elif kn == 2 and kw == 2:
                    value = decode_any(buf, s, e)
            if key is not None:
                out[key] = value
    return out


def _records(buf: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Yield the positions of a scope block's records (field 2), stepping over its other fields."""
    pos = start
    while True:
        a, pos = _next_field(buf, pos, end, 0x12)
        if a < 0:
            return
        yield a, pos


def _count_records(buf: bytes, start: int, end: int) -> int:
    """The number of records of a scope block: :func:`_records`, counting instead of yielding."""
    count = 0
    pos = start
    while True:
        a, pos = _next_field(buf, pos, end, 0x12)
        if a < 0:
            return count
        count += 1


def _scope_name(buf: bytes, start: int, end: int) -> str:
    """The name of a scope block's scope (field 1 of its field 1), wherever they are.

    Every field of the block is looked at, as a parser would merge a repeated ``scope``; the
    records are stepped over without being read, which costs little next to reading them.
    """
    name = ""
    pos = start
    while True:
        a, pos = _next_field(buf, pos, end, 0x0A)
        if a < 0:
            return name
        for c, d in _fields(buf, a, pos, 1):
            name = buf[c:d].decode("utf-8", "replace")


def _next_field(buf: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    """The payload of the next length-delimited field with the one-byte ``tag`` from ``pos``.

    Returns its start and end, stepping over other fields unread; ``(-1, end)`` when no such
    field is left.
    """
    while pos < end:
        if buf[pos] == tag:
            length, start = read_varint(buf, pos + 1)
            stop = start + length
            if stop > end:
                raise InvalidOTLPError("protobuf: a field runs past the end of its message")
            return start, stop
        pos = skip_field(buf, pos, end)[1]
    return -1, end
