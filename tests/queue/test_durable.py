"""The durable queue: bounded, durable across reopen, at-least-once per consumer."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from sv_otel.queue import DurableQueue, decode_events

pytestmark = pytest.mark.anyio


def events(*names: str) -> list[Event]:
    return [Event(event=name, timestamp=1, session_id="s") for name in names]


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


async def test_put_over_the_byte_bound_raises_queue_full_and_writes_nothing(
    tmp_path: Path,
) -> None:
    queue = await DurableQueue.open(
        tmp_path / "q.db", max_bytes=200, consumers=[("logs", "a")], retry_after=3.0
    )
    await queue.put({"logs": events("x" * 100)})
    with pytest.raises(QueueFullError) as raised:
        await queue.put({"logs": events("y" * 100)})
    assert raised.value.retry_after == 3.0
    assert raised.value.message.startswith("queue: full (")
    records = await queue.read("logs", "a", max_events=9)
    assert [e.event for e in decode_events(records)] == ["x" * 100]
    await queue.ack("logs", "a", records[-1].id)
    assert queue.queued_bytes == 0
    await queue.put({"logs": events("y" * 100)})  # room again
    await queue.close()


async def test_concurrent_puts_are_all_committed(tmp_path: Path) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 20, consumers=[("p", "c")])
    await asyncio.gather(*(queue.put({"p": events(str(i))}) for i in range(200)))
    await queue.close()
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 20, consumers=[("p", "c")])
    names = [e.event for e in decode_events(await queue.read("p", "c", max_events=1000))]
    assert sorted(names, key=int) == [str(i) for i in range(200)]
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


async def test_a_full_disk_is_a_retryable_queue_full_error(tmp_path: Path) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 30, consumers=[("p", "c")])
    # sqlite's own size cap gives the same SQLITE_FULL error as a full disk.
    pages = queue._store._db.execute("PRAGMA page_count").fetchone()[0]
    queue._store._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(QueueFullError) as raised:
        await queue.put({"p": events("x" * 100_000)})
    assert raised.value.message == "queue: cannot write (database or disk is full); retry later"
    await queue.close()
