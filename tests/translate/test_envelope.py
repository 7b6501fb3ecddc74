"""The request envelope as the readers walk it: nothing collected ahead, fields in any order."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import sv_otel
from sv_otel import Event
from sv_otel.translate.stats import TranslationStats

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


def _reordered(request: bytes, kind: str) -> bytes:
    """``request`` with each block's resource and scope written after what they describe."""
    message = (ExportLogsServiceRequest if kind == "logs" else ExportTraceServiceRequest)()
    message.ParseFromString(request)
    blocks = message.resource_logs if kind == "logs" else message.resource_spans
    out = []
    for block in blocks:
        scoped = []
        for scope_block in block.scope_logs if kind == "logs" else block.scope_spans:
            records = scope_block.log_records if kind == "logs" else scope_block.spans
            body = b"".join(_field(2, record.SerializeToString()) for record in records)
            scoped.append(_field(2, body + _field(1, scope_block.scope.SerializeToString())))
        resource = _field(1, block.resource.SerializeToString())
        out.append(_field(1, b"".join(scoped) + resource))
    return b"".join(out)


@pytest.mark.parametrize("kind", READERS)
def test_a_scope_and_resource_written_after_their_records_are_still_read(kind: str) -> None:
    read, encode = READERS[kind]
    request = encode(EVENTS)
    reordered = _reordered(request, kind)
    assert reordered != request
    assert read(reordered) == read(request) == EVENTS  # still read as sv_otel's own


@pytest.mark.parametrize("kind", READERS)
def test_a_repeated_scope_merges_as_a_parser_merges_it(kind: str) -> None:
    read, encode = READERS[kind]
    request = encode(EVENTS)
    message = (ExportLogsServiceRequest if kind == "logs" else ExportTraceServiceRequest)()
    message.ParseFromString(request)
    block = (message.resource_logs if kind == "logs" else message.resource_spans)[0]
    scope_block = (block.scope_logs if kind == "logs" else block.scope_spans)[0]
    records = scope_block.log_records if kind == "logs" else scope_block.spans
    body = b"".join(_field(2, record.SerializeToString()) for record in records)
    # A foreign scope first, then sv_otel's: the later name wins, as ParseFromString says.
    foreign = _field(1, _field(1, b"some.library"))
    own = _field(1, scope_block.scope.SerializeToString())
    buf = _field(1, _field(2, foreign + body + own))
    parsed = type(message).FromString(buf)
    scopes = parsed.resource_logs if kind == "logs" else parsed.resource_spans
    first = (scopes[0].scope_logs if kind == "logs" else scopes[0].scope_spans)[0]
    assert first.scope.name == "sessionvision"
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
