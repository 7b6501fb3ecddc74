"""Which queue shards a worker opens, and what opening one does with unconfigured pipelines."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from sv_otel.event import Event
from sv_otel.queue import DurableQueue
from sv_otel.server.config import ServiceSettings
from sv_otel.server.shards import open_shard, owned_shards, shard_path

pytestmark = pytest.mark.anyio


def test_a_worker_owns_its_own_shard_even_before_the_queue_directory_exists(
    tmp_path: Path,
) -> None:
    assert owned_shards(tmp_path, 2, 4) == [2]


def test_shards_left_by_a_larger_run_go_to_the_worker_of_their_number_modulo_workers(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "queue"
    directory.mkdir()
    for name in ("shard-0.db", "shard-3.db", "shard-5.db", "shard-5.db-wal", "shard-x.db"):
        (directory / name).touch()
    assert owned_shards(tmp_path, 0, 2) == [0]
    assert owned_shards(tmp_path, 1, 2) == [1, 3, 5]
    assert owned_shards(tmp_path, 0, 1) == [0, 3, 5]


async def test_opening_a_shard_moves_events_of_unconfigured_pipelines_to_the_dead_letter_file(
    tmp_path: Path,
) -> None:
    old = await DurableQueue.open(
        shard_path(tmp_path, 0), max_bytes=1 << 20, consumers=[("logs/old", "otlp")]
    )
    await old.put({"logs/old": [Event(event="kept", timestamp=1, session_id="s")]})
    await old.close()
    service = ServiceSettings(data_dir=tmp_path)
    queue = await open_shard(service, 0, max_bytes=1 << 20, consumers=[("logs", "file")], codecs={})
    assert queue.queued_bytes == 0
    await queue.close()
    (line,) = (tmp_path / "deadletter" / "logs_old.unconfigured.jsonl").read_bytes().splitlines()
    dead = msgspec.json.decode(line)
    assert dead["error"] == "pipeline logs/old is no longer configured"
    assert [e["event"] for e in dead["events"]] == ["kept"]
