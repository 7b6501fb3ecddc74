"""Group commit: puts are bounded in bytes, committed together, and fail retryably."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sv_otel.errors import QueueFullError
from sv_otel.queue import DurableQueue, decode_events

from ._helpers import events

pytestmark = pytest.mark.anyio


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


async def test_a_full_disk_is_a_retryable_queue_full_error(tmp_path: Path) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 30, consumers=[("p", "c")])
    # sqlite's own size cap gives the same SQLITE_FULL error as a full disk.
    pages = queue._store._db.execute("PRAGMA page_count").fetchone()[0]
    queue._store._db.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(QueueFullError) as raised:
        await queue.put({"p": events("x" * 100_000)})
    assert raised.value.message == "queue: cannot write (database or disk is full); retry later"
    await queue.close()
