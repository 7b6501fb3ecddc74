"""Events to OTLP log records and back.

Each event becomes one ``LogRecord`` in scope ``sessionvision``:

* ``event_name`` (field 12) = the event name; ``time_unix_nano`` = ``timestamp`` x 10^6;
  ``observed_time_unix_nano`` = when sv_otel translated it;
* ``trace_id`` = the session's trace id (:func:`sv_otel.ids.session_trace_id`), so logs and the
  session's spans correlate; no ``span_id``, no body, no severity;
* attributes ``session.id``, ``user.id``, ``enduser.pseudo.id`` (when set), then every property
  through the mapping table of :mod:`sv_otel.attributes`, in the event's order.

Reading back is :mod:`sv_otel.translate.logs_reader`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Final, TypeAlias

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from sv_otel.attributes import ENDUSER_PSEUDO_ID, SESSION_ID, USER_ID, attribute_key
from sv_otel.event import Event
from sv_otel.ids import session_trace_id
from sv_otel.translate._encode import (
    CACHE_BYTES,
    CACHED_CHARS,
    ENTRY_BYTES,
    AttributeEncoder,
    field,
    pack_fixed64,
    varint,
)
from sv_otel.translate._envelope import ResourceLike, encode_request

__all__ = [
    "encode_log_records",
    "encode_logs",
    "events_to_logs",
    "log_records_request",
]

_ATTRIBUTE: Final = AttributeEncoder(b"\x32")
_PROPERTY: Final = AttributeEncoder(b"\x32", attribute_key)


def events_to_logs(
    events: Sequence[Event],
    *,
    resource: ResourceLike | Mapping[str, object] | None = None,
    observed_time_unix_nano: int | None = None,
) -> ExportLogsServiceRequest:
    """Translate events into one OTLP logs request: one log record per event, in order.

    Args:
        events: the events, e.g. ``parse_batch(body).events``.
        resource: resource attributes (an SDK ``Resource`` or a mapping); default
            ``{"service.name": "sessionvision"}``.
        observed_time_unix_nano: the records' observed time; default now.
    """
    return ExportLogsServiceRequest.FromString(
        encode_logs(events, resource=resource, observed_time_unix_nano=observed_time_unix_nano)
    )


def encode_logs(
    events: Sequence[Event],
    *,
    resource: ResourceLike | Mapping[str, object] | None = None,
    observed_time_unix_nano: int | None = None,
) -> bytes:
    """Like :func:`events_to_logs`, but return the serialised request (for exporters)."""
    out, size = _encode_records(events, observed_time_unix_nano)
    return encode_request(out, size, resource)


def encode_log_records(
    events: Sequence[Event], *, observed_time_unix_nano: int | None = None
) -> bytes:
    """The log records of ``events`` alone, as they sit in a request: each a complete
    ``log_records`` field of ``ScopeLogs``, back to back (the first byte is always ``0x12``).

    Records of several calls may be joined (``b"".join``) and wrapped into one request with
    :func:`log_records_request`; the result is what :func:`encode_logs` makes of all their
    events (with each part's observed time).
    """
    out, _ = _encode_records(events, observed_time_unix_nano)
    return b"".join(out)


def log_records_request(
    records: Sequence[bytes], *, resource: ResourceLike | Mapping[str, object] | None = None
) -> bytes:
    """The serialised logs request holding ``records`` (from :func:`encode_log_records`)."""
    size = 0
    for part in records:
        size += len(part)
    return encode_request(list(records), size, resource)


def _encode_records(
    events: Sequence[Event], observed_time_unix_nano: int | None
) -> tuple[list[bytes], int]:
    """The records of ``events`` as pieces to join, and their total size."""
    observed = b"\x59" + pack_fixed64(
        time.time_ns() if observed_time_unix_nano is None else observed_time_unix_nano
    )
    out: list[bytes] = []
    size = 0
    for event in events:
        identity = (event.session_id, event.user_id, event.anonymous_id)
        head = _HEADS.get(identity)
        if head is None:
            head = _remember_head(identity)
        name = _NAMES.get(event.event)
        if name is None:
            name = _remember_name(event.event)
        # The record's length prefix comes first, so keep its slot and fill it in at the end.
        out.append(b"\x12")
        slot = len(out)
        out.append(b"")
        out.append(b"\x09")
        out.append(pack_fixed64(event.timestamp * 1_000_000))
        out.append(observed)
        out.append(name)
        out.append(head)
        length = 18 + len(name) + len(head)  # 9 + 9 bytes of time fields
        for key, value in event.properties.items():
            attribute = _PROPERTY.encode(key, value)
            out.append(attribute)
            length += len(attribute)
        prefix = varint(length)
        out[slot] = prefix
        size += 1 + len(prefix) + length
    return out, size


_Identity: TypeAlias = tuple[str, "str | None", "str | None"]
_HEADS: Final[dict[_Identity, bytes]] = {}
"""The encoded trace id and identity attributes of each (session, user, anonymous) id seen."""
_NAMES: Final[dict[str, bytes]] = {}
"""The encoded ``event_name`` field of each event name seen."""
_cached_bytes = 0
"""What ``_HEADS`` and ``_NAMES`` take together, estimated; past CACHE_BYTES both are emptied."""


def _spend(size: int) -> None:
    global _cached_bytes
    if _cached_bytes >= CACHE_BYTES:
        _HEADS.clear()
        _NAMES.clear()
        _cached_bytes = 0
    _cached_bytes += size


def _remember_head(identity: _Identity) -> bytes:
    session_id, user_id, anonymous_id = identity
    head = b"\x4a\x10" + session_trace_id(session_id)
    head += _ATTRIBUTE.encode(SESSION_ID, session_id)
    if user_id is not None:
        head += _ATTRIBUTE.encode(USER_ID, user_id)
    if anonymous_id is not None:
        head += _ATTRIBUTE.encode(ENDUSER_PSEUDO_ID, anonymous_id)
    if len(head) <= 4 * CACHED_CHARS:
        _spend(3 * len(head) + 4 * ENTRY_BYTES)  # the head, the ids and the tuple
        _HEADS[identity] = head
    return head


def _remember_name(name: str) -> bytes:
    encoded = field(b"\x62", name.encode())
    if len(name) <= CACHED_CHARS:
        _spend(2 * len(encoded) + 2 * ENTRY_BYTES)
        _NAMES[name] = encoded
    return encoded
