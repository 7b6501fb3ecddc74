"""How the queue stores a batch of events: a msgpack array of them.

Batches committed together for one pipeline are stored as one record: their arrays are joined
into one array without decoding them (:func:`join_events`), so a commit writes one row per
pipeline however many requests it carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import msgspec

from sv_otel.event import Event
from sv_otel.queue._store import Record

__all__ = ["decode_events", "encode_events", "join_events"]

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list[Event])


def encode_events(events: Sequence[Event]) -> bytes:
    """The queue's encoding of a batch of events (msgpack)."""
    return _ENCODER.encode(events)


def decode_events(records: Iterable[Record]) -> list[Event]:
    """The events of ``records``, in order."""
    events: list[Event] = []
    for record in records:
        events.extend(_DECODER.decode(record.payload))
    return events


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
