"""The translation caches keep short strings only, so long unique input cannot fill memory.

The encoders and the reader cache what repeats (attribute encodings, event names, session
heads, trace ids) up to 65 536 entries each; a key, value, name or id longer than 256 characters
is encoded afresh instead. Without that, a client sending long unique values could make each
cache hold 65 536 of them (gigabytes with 64 KiB strings).
"""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

import sv_otel
from sv_otel import Event
from sv_otel.ids import session_trace_id

COUNT = 400


def _long(i: int, what: str) -> str:
    return f"{what}-{i}-" + "x" * 4000


def _events(start: int) -> list[Event]:
    return [
        Event(
            event=_long(i, "name"),
            timestamp=1_700_000_000_000 + i,
            properties={_long(i, "key"): _long(i, "value"), "plain": _long(i, "plain")},
            anonymous_id=_long(i, "anon"),
            user_id=_long(i, "user"),
            session_id=_long(i, "session"),
        )
        for i in range(start, start + COUNT)
    ]


def _retained(run: Callable[[int], object]) -> int:
    """Bytes still allocated after ``run(start)`` returns (its input and output are gone)."""
    run(0)  # warm up: imports, interned constants, first cache entries
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        run(COUNT)
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_encoding_long_unique_strings_retains_nothing() -> None:
    # Each round passes about 13 MB of unique long strings; cached, they would stay.
    retained = _retained(lambda start: sv_otel.encode_logs(_events(start)))
    assert retained < 200_000, retained
    retained = _retained(lambda start: sv_otel.encode_spans(_events(start)))
    assert retained < 200_000, retained


def test_reading_long_unique_attributes_retains_nothing() -> None:
    def read(start: int) -> object:
        request = ExportLogsServiceRequest.FromString(sv_otel.encode_logs(_events(start)))
        return sv_otel.logs_to_events(request)

    retained = _retained(read)
    assert retained < 200_000, retained


def test_long_session_ids_get_the_same_trace_id_uncached() -> None:
    long_id = _long(1, "session")
    assert session_trace_id(long_id) == session_trace_id(long_id)
    assert session_trace_id(long_id) != session_trace_id(long_id + "y")
    assert len(session_trace_id(long_id)) == 16
