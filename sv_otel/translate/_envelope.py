"""The parts shared by the log and trace requests: resource, scope, and the session header.

``ExportLogsServiceRequest`` and ``ExportTraceServiceRequest`` have the same envelope shape
(request -> resource_* (1) -> {resource (1), scope_* (2)} -> {scope (1), records (2)}), so one
function writes both and one reads both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from sv_otel.attributes import SCOPE_NAME, SERVICE_NAME
from sv_otel.event import JSONValue
from sv_otel.translate._decode import decode_any, iter_fields
from sv_otel.translate._encode import AttributeEncoder, field, varint

__all__ = [
    "DEFAULT_RESOURCE",
    "ResourceLike",
    "Scope",
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
    """One ``Scope*`` block of a request: its resource's attributes, its name, and its records."""

    __slots__ = ("name", "records", "resource")

    def __init__(self, resource: dict[str, JSONValue], name: str, records: list[tuple[int, int]]):
        self.resource = resource
        self.name = name
        self.records = records


def iter_scopes(buf: bytes) -> Iterator[Scope]:
    """Yield every scope block of an OTLP logs or traces request, with record positions.

    Also reads the deprecated ``instrumentation_library_*`` blocks (field 1000) that old SDKs
    still send: they have the scope block's shape.
    """
    for number, wire, start, end in iter_fields(buf, 0, len(buf)):
        if number != 1 or wire != 2:
            continue
        resource: dict[str, JSONValue] = {}
        blocks: list[tuple[int, int]] = []
        for inner, inner_wire, a, b in iter_fields(buf, start, end):
            if inner_wire != 2:
                continue
            if inner == 1:
                resource = _attributes(buf, a, b, 1)
            elif inner in (2, 1000):
                blocks.append((a, b))
        for a, b in blocks:
            name = ""
            records: list[tuple[int, int]] = []
            for inner, inner_wire, s, e in iter_fields(buf, a, b):
                if inner_wire != 2:
                    continue
                if inner == 2:
                    records.append((s, e))
                elif inner == 1:
                    name = _scope_name(buf, s, e)
            yield Scope(resource, name, records)


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


def _scope_name(buf: bytes, start: int, end: int) -> str:
    for n, wire, a, b in iter_fields(buf, start, end):
        if n == 1 and wire == 2:
            return buf[a:b].decode("utf-8", "replace")
    return ""
