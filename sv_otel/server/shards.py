"""The queue shards of one worker: which it owns, and opening them.

With ``workers`` processes, worker ``i`` writes to ``<data_dir>/queue/shard-i.db`` and also
drains any shard ``k`` with ``k % workers == i`` left by an earlier run with more workers, so
nothing a larger deployment acknowledged is stranded when it shrinks. Events of a pipeline that
is no longer configured are moved out of an opened shard into the dead-letter directory.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from sv_otel.exporter.deadletter import DeadLetterFile
from sv_otel.queue import DurableQueue, RecordCodec
from sv_otel.server.config import ServiceSettings

__all__ = ["open_shard", "owned_shards", "shard_path"]

logger = logging.getLogger(__name__)

_SHARD: Final = re.compile(r"^shard-(\d+)\.db$")


def shard_path(data_dir: Path, shard: int) -> Path:
    """The file of queue shard ``shard``."""
    return data_dir / "queue" / f"shard-{shard}.db"


def owned_shards(data_dir: Path, worker: int, workers: int) -> list[int]:
    """The shards worker ``worker`` of ``workers`` opens: its own, then any left over for it."""
    owned = {worker}
    directory = data_dir / "queue"
    if directory.is_dir():
        for path in directory.iterdir():
            match = _SHARD.match(path.name)
            if match and int(match.group(1)) % workers == worker:
                owned.add(int(match.group(1)))
    return sorted(owned)


async def open_shard(
    service: ServiceSettings,
    shard: int,
    *,
    max_bytes: int,
    consumers: Iterable[tuple[str, str]],
    codecs: Mapping[str, RecordCodec],
) -> DurableQueue:
    """Open shard ``shard`` with the service's queue settings; dead-letter unconfigured events.

    Args:
        service: the ``service`` section (data directory and queue settings).
        shard: the shard's number.
        max_bytes: this worker's share of ``queue.max_size``.
        consumers: ``(pipeline, exporter)`` pairs that read the queue.
        codecs: how each pipeline's records are stored.
    """
    queue = await DurableQueue.open(
        shard_path(service.data_dir, shard),
        max_bytes=max_bytes,
        consumers=list(consumers),
        synchronous=service.queue_synchronous,
        retry_after=service.queue_retry_after,
        max_record_events=service.max_batch_events,
        codecs=codecs,
    )
    for pipeline, events in queue.removed.items():
        logger.warning(
            "%d queued events of pipeline %s, which is no longer configured, moved to "
            "the dead-letter directory",
            len(events),
            pipeline,
        )
        await DeadLetterFile(service.data_dir / "deadletter", pipeline, "unconfigured").write(
            events, f"pipeline {pipeline} is no longer configured"
        )
    return queue
