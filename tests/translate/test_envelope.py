"""The request envelope as the readers walk it: nothing collected ahead, fields in any order."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import sv_otel
from sv_otel import Event, InvalidOTLPError
from sv_otel.translate import TranslationStats, count_records

EVENTS = [
    Event(
        event=f"click-{i}",
        timestamp=1_700_000_000_000 + i,
        properties={"n": i, "tag": "b"},
        anonymous_id="anon",
        user_id=None,
        session_id="s1",
    )
    for i in range(3)
]
Reader = Callable[..., list[Event]]
READERS: dict[str, tuple[Reader, Callable[[list[Event]], bytes]]] = {
    "logs": (sv_otel.logs_to_events, sv_otel.encode_logs),
    "spans": (
        sv_otel.spans_to_events,
        lambda events: sv_otel.events_to_spans(events).SerializeToString(),
    ),
}


def _field(number: int, payload: bytes) -> bytes:
    out = bytearray()
    for value in ((number << 3) | 2, len(payload)):
        while value >= 0x80:
            out.append(value & 0x7F | 0x80)
            value >>= 7
        out.append(value)
    return bytes(out) + payload


def _split(buf: bytes) -> list[tuple[int, bytes]]:
    """The length-delimited fields of a message (all an OTLP envelope has): (number, payload)."""
    fields = []
    pos = 0
    while pos < len(buf):
        values = []
        for _ in range(2):  # the tag, then the length
            value = shift = 0
            while True:
                byte = buf[pos]
                pos += 1
                value |= (byte & 0x7F) << shift
                shift += 7
                if byte < 0x80:
                    break
            values.append(value)
        tag, length = values
        assert tag & 7 == 2
        fields.append((tag >> 3, buf[pos : pos + length]))
        pos += length
    return fields


def _payloads(buf: bytes, number: int) -> list[bytes]:
    return [payload for n, payload in _split(buf) if n == number]


def _rebuilt(request: bytes, scope_first: bool, scope: Callable[[bytes], bytes]) -> bytes:
    """``request`` rebuilt: records, then scope (or the other way), then resource."""
    out = []
    for block in _payloads(request, 1):
        scoped = []
        for scope_block in _payloads(block, 2):
            (own,) = _payloads(scope_block, 1)
            records = b"".join(_field(2, record) for record in _payloads(scope_block, 2))
            parts = [scope(own), records] if scope_first else [records, scope(own)]
            scoped.append(_field(2, b"".join(parts)))
        (resource,) = _payloads(block, 1)
        out.append(_field(1, b"".join(scoped) + _field(1, resource)))
    return b"".join(out)


@pytest.mark.parametrize("kind", READERS)
def test_a_scope_and_resource_written_after_their_records_are_still_read(kind: str) -> None:
    read, encode = READERS[kind]
    request = encode(EVENTS)
    reordered = _rebuilt(request, False, lambda own: _field(1, own))
    assert reordered != request
    assert read(reordered) == read(request) == EVENTS  # still read as sv_otel's own


@pytest.mark.parametrize("kind", READERS)
def test_a_repeated_scope_merges_as_a_parser_merges_it(kind: str) -> None:
    # A foreign scope first, then sv_otel's: the later name wins, as ParseFromString has it.
    read, encode = READERS[kind]
    foreign = _field(1, _field(1, b"some.library"))
    buf = _rebuilt(encode(EVENTS), True, lambda own: foreign + _field(1, own))
    parsed = (ExportLogsServiceRequest if kind == "logs" else ExportTraceServiceRequest)()
    parsed.ParseFromString(buf)
    assert 'name: "sessionvision"' in str(parsed)
    assert "some.library" not in str(parsed)
    assert read(buf) == EVENTS


@pytest.mark.parametrize("kind", READERS)
def test_millions_of_empty_records_cost_no_memory_ahead(kind: str) -> None:
    # Two bytes a record: a list of their positions would take sixty times the request.
    read, _ = READERS[kind]
    request = _field(1, _field(2, b"\x12\x00" * 1_000_000))
    stats = TranslationStats()
    tracemalloc.start()
    try:
        assert read(request, stats=stats) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert stats.skipped == 1_000_000
    assert peak < 1 << 20, f"reading took {peak} bytes at its peak"


@pytest.mark.parametrize("kind", READERS)
def test_count_records_counts_what_the_readers_read(kind: str) -> None:
    _, encode = READERS[kind]
    request = encode(EVENTS)
    reordered = _rebuilt(request, False, lambda own: _field(1, own))
    old_sdk = _field(1, _field(1000, _field(2, b"") * 4))  # instrumentation_library_* blocks
    assert count_records(request) == count_records(reordered) == (3 if kind == "logs" else 1)
    assert count_records(request + old_sdk + request) == (10 if kind == "logs" else 6)
    with pytest.raises(InvalidOTLPError, match="runs past the end"):
        count_records(request[:-1])
