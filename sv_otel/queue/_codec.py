"""How the queue stores a batch of events: a :class:`RecordCodec` per pipeline.

* :data:`EVENTS` (the default): a msgpack array of the events.
* :data:`LOG_RECORDS` (logs pipelines whose exporters all take ready requests): the events
  translated once, as OTLP log records (:func:`sv_otel.translate.encode_log_records`), with the
  time they were queued as their observed time. Exporting them is wrapping them into a request,
  with no translation left to do.
* :data:`SESSION_JSON` (pipelines whose exporters are all sessionvision ones): the events as
  the sessionvision JSON they are sent as, grouped by session (:mod:`sv_otel.session_json`).

A payload says which it is by its first byte: a msgpack array starts with ``0x90``-``0x9f``,
``0xdc`` or ``0xdd``, a msgpack map with ``0x80``-``0x8f``, ``0xde`` or ``0xdf``, a log record
field with ``0x12``; :func:`decode_events` reads all three.
Batches committed together for one pipeline are stored as one record: their payloads are joined
without decoding their events (:meth:`RecordCodec.join`), so a commit writes one row per
pipeline however many requests it carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final, Protocol

import msgspec

from sv_otel.event import Event
from sv_otel.queue._store import Record
from sv_otel.session_json import SessionJson, encode_session_json, join_session_json
from sv_otel.translate import encode_log_records, log_records_request, logs_to_events

__all__ = [
    "EVENTS",
    "LOG_RECORDS",
    "SESSION_JSON",
    "RecordCodec",
    "decode_events",
    "encode_events",
    "is_log_records",
    "is_session_json",
    "join_events",
]

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list[Event])


def encode_events(events: Sequence[Event]) -> bytes:
    """The queue's encoding of a batch of events (msgpack)."""
    return _ENCODER.encode(events)


def decode_events(records: Iterable[Record]) -> list[Event]:
    """The events of ``records``, in order, whichever codec wrote them.

    Raises:
        msgspec.DecodeError: a damaged msgpack payload.
        InvalidOTLPError: a damaged log records payload.
    """
    events: list[Event] = []
    for record in records:
        if is_log_records(record):
            events.extend(logs_to_events(log_records_request([record.payload])))
        elif is_session_json(record):
            events.extend(SessionJson.of_payloads([record.payload]).to_events())
        else:
            events.extend(_DECODER.decode(record.payload))
    return events


def is_log_records(record: Record) -> bool:
    """Whether ``record`` holds OTLP log records (:data:`LOG_RECORDS`)."""
    return record.payload[:1] == b"\x12"


def is_session_json(record: Record) -> bool:
    """Whether ``record`` holds sessionvision JSON by session (:data:`SESSION_JSON`)."""
    first = record.payload[0] if record.payload else 0
    return first & 0xF0 == 0x80 or first == 0xDE or first == 0xDF


class RecordCodec(Protocol):
    """How the queue writes the events of one pipeline."""

    def encode(self, events: Sequence[Event]) -> bytes:
        """The payload of one batch."""
        ...

    def join(self, payloads: Sequence[bytes], count: int) -> bytes:
        """One payload holding the ``count`` events of ``payloads``, in order."""
        ...


class _Events:
    """msgpack arrays of events."""

    def encode(self, events: Sequence[Event]) -> bytes:
        return encode_events(events)

    def join(self, payloads: Sequence[bytes], count: int) -> bytes:
        return join_events(payloads, count)


class _LogRecords:
    """OTLP log records, observed now."""

    def encode(self, events: Sequence[Event]) -> bytes:
        return encode_log_records(events)

    def join(self, payloads: Sequence[bytes], count: int) -> bytes:
        return payloads[0] if len(payloads) == 1 else b"".join(payloads)


class _SessionJson:
    """sessionvision JSON, by session."""

    def encode(self, events: Sequence[Event]) -> bytes:
        return encode_session_json(events)

    def join(self, payloads: Sequence[bytes], count: int) -> bytes:
        return join_session_json(payloads)


EVENTS: Final[RecordCodec] = _Events()
"""The default codec: a msgpack array of events."""
LOG_RECORDS: Final[RecordCodec] = _LogRecords()
"""OTLP log records, for logs pipelines whose exporters send ready requests."""
SESSION_JSON: Final[RecordCodec] = _SessionJson()
"""sessionvision JSON by session, for pipelines whose exporters are all sessionvision ones."""


def join_events(payloads: Sequence[bytes], count: int) -> bytes:
    """One encoded batch of the ``count`` events of ``payloads`` (encoded batches), in order."""
    if len(payloads) == 1:
        return payloads[0]
    if count < 16:
        parts: list[bytes | memoryview] = [bytes((0x90 | count,))]
    elif count < 1 << 16:
        parts = [b"\xdc" + count.to_bytes(2, "big")]
    else:
        parts = [b"\xdd" + count.to_bytes(4, "big")]
    for payload in payloads:
        parts.append(memoryview(payload)[_header_length(payload[0]) :])
    return b"".join(parts)


def _header_length(first: int) -> int:
    """The length of a msgpack array header that starts with the byte ``first``."""
    if first & 0xF0 == 0x90:
        return 1
    if first == 0xDC:
        return 3
    if first == 0xDD:
        return 5
    raise ValueError(f"not a msgpack array (first byte 0x{first:02x})")
