"""A million distinct sessions through a processor capped at 1 000: bounded memory, disk, rows."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from sv_otel import Event
from sv_otel.sessions import SessionConfig, SessionLifecycleProcessor
from tests.sessions._helpers import T0

TOTAL = 1_000_000
BATCH = 1_000
CAP = 1_000
FILE_BYTES = 1 << 20
# Memory is traced over the last 40 batches only (tracing is slow). The first 20 replace the
# working set (the tracked sessions) with traced allocations; the last 20 must add nothing.
TRACED_BATCHES = 40


def test_a_million_distinct_sessions_stay_under_the_cap(tmp_path: Path) -> None:
    config = SessionConfig(
        max_sessions=CAP,
        max_ended=20_000,
        max_identities=20_000,
        record_events=0,
        max_file_bytes=FILE_BYTES,
    )
    processor = SessionLifecycleProcessor(tmp_path, config)
    hot = Event(event="$click", timestamp=T0, session_id="hot", anonymous_id="hot")
    starts = evicted = baseline = 0
    for number in range(TOTAL // BATCH):
        if number == TOTAL // BATCH - TRACED_BATCHES:
            tracemalloc.start()
        elif number == TOTAL // BATCH - TRACED_BATCHES // 2:
            baseline = tracemalloc.get_traced_memory()[0]
        first = number * BATCH
        events = [
            Event(event="$pageview", timestamp=T0 + i, session_id=f"s{i}", anonymous_id=f"a{i}")
            for i in range(first, first + BATCH)
        ]
        # One session is active twice a batch (more often than every CAP new sessions), so it
        # is never the least recently active one.
        events.insert(BATCH // 2, hot)
        events.append(hot)
        for event in processor.process(events, now_ms=number):
            if event.event == "session.start":
                starts += 1
            elif event.event == "session.end":
                # Least recently active first: sessions go in the order they were last seen.
                assert event.session_id == f"s{evicted}"
                assert event.properties["$session.end_reason"] == "evicted"
                evicted += 1
        assert len(processor) <= CAP
    growth = tracemalloc.get_traced_memory()[0] - baseline
    tracemalloc.stop()

    assert starts == TOTAL + 1
    assert len(processor) == CAP
    assert evicted == TOTAL + 1 - CAP  # all but the last CAP - 1 and the active one
    assert processor.summary("hot") is not None
    assert processor.summary(f"s{TOTAL - 1}") is not None
    assert processor.summary(f"s{TOTAL - CAP}") is None
    # Memory: the last 20 000 sessions added (almost) nothing; a leak of 13 bytes a session
    # would show.
    assert growth < 256 * 1024, f"memory grew by {growth} bytes over 20 000 sessions"
    # Disk: bounded tables and rotated files.
    assert processor._store.counts() == {"sessions": CAP, "ended": 20_000, "identities": 20_000}
    directory = tmp_path / "sessions"
    sizes = [p.stat().st_size for p in directory.glob("summaries.jsonl*")]
    assert len(sizes) == 2
    assert sum(sizes) < 2 * FILE_BYTES + 4096
    processor.close()
