"""The durable queue: bounded, durable across reopen, at-least-once per consumer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sv_otel.event import Event
from sv_otel.queue import SESSION_JSON, DurableQueue, decode_events, is_session_json

from ._helpers import events

pytestmark = pytest.mark.anyio


async def test_records_survive_a_reopen_until_every_consumer_acked(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    consumers = [("logs", "a"), ("logs", "b")]
    queue = await DurableQueue.open(path, max_bytes=1 << 20, consumers=consumers)
    await queue.put({"logs": events("one", "two")})
    await queue.put({"logs": events("three")})
    first = await queue.read("logs", "a", max_events=2)
    assert [e.event for e in decode_events(first)] == ["one", "two"]
    await queue.ack("logs", "a", first[-1].id)
    await queue.close()

    queue = await DurableQueue.open(path, max_bytes=1 << 20, consumers=consumers)
    assert [e.event for e in decode_events(await queue.read("logs", "a", max_events=9))] == [
        "three"
    ]
    b_records = await queue.read("logs", "b", max_events=9)
    assert [e.event for e in decode_events(b_records)] == ["one", "two", "three"]
    assert queue.queued_events == {"logs": 3}
    await queue.ack("logs", "b", b_records[-1].id)
    assert queue.queued_events == {"logs": 1}  # "three" still waits for a
    await queue.close()


async def test_a_consumer_registered_later_receives_the_backlog_of_its_pipeline(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    queue = await DurableQueue.open(path, max_bytes=1 << 20, consumers=[("logs", "a")])
    await queue.put({"logs": events("l"), "traces": events("t")})  # one transaction
    await queue.close()
    consumers = [("logs", "a"), ("logs", "new"), ("traces", "b")]
    queue = await DurableQueue.open(path, max_bytes=1 << 20, consumers=consumers)
    assert [e.event for e in decode_events(await queue.read("logs", "new", max_events=9))] == ["l"]
    assert [e.event for e in decode_events(await queue.read("traces", "b", max_events=9))] == ["t"]
    await queue.close()
    queue = await DurableQueue.open(path, max_bytes=1 << 20, consumers=[("logs", "a")])
    assert queue.queued_events == {"logs": 1}
    # a pipeline nobody consumes any more leaves the file, and the caller gets its events
    assert {p: [e.event for e in events] for p, events in queue.removed.items()} == {
        "traces": ["t"]
    }
    await queue.close()


async def test_read_respects_the_event_limit_but_returns_at_least_one_record(
    tmp_path: Path,
) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 20, consumers=[("p", "c")])
    await queue.put({"p": events("a", "b", "c")})
    await queue.put({"p": events("d")})
    assert len(await queue.read("p", "c", max_events=1)) == 1
    assert len(await queue.read("p", "c", max_events=4)) == 2
    await queue.close()


async def test_json_by_session_is_joined_on_commit_and_read_back_as_the_events(
    tmp_path: Path,
) -> None:
    path = tmp_path / "q.db"
    codecs = {"p": SESSION_JSON}
    queue = await DurableQueue.open(path, max_bytes=1 << 20, consumers=[("p", "c")], codecs=codecs)
    other = [Event(event="o", timestamp=2, session_id="t")]
    await asyncio.gather(  # committed together: one record
        queue.put({"p": events("a", "b")}), queue.put({"p": [*other, *events("c")]})
    )
    (record,) = await queue.read("p", "c", max_events=9)
    assert is_session_json(record) and record.events == 4
    assert [e.event for e in decode_events([record])] == ["a", "b", "c", "o"]  # by session
    await queue.close()
    queue = await DurableQueue.open(path, max_bytes=1 << 20, consumers=[])  # "p" is gone
    assert [e.event for e in queue.removed["p"]] == ["a", "b", "c", "o"]
    await queue.close()
