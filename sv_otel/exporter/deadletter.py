"""The dead-letter file: events an exporter could not deliver, kept instead of dropped.

One JSON line per failed batch, in ``<data-dir>/deadletter/<pipeline>.<exporter>.jsonl`` (``/`` in
ids becomes ``_``)::

    {"time": "2026-11-23T01:02:03Z", "pipeline": "logs", "exporter": "otlp",
     "error": "HTTP 400: ...", "events": [{"event": ..., "timestamp": ..., ...}]}

The events are in the SDK's JSON shape, so ``curl --data-binary`` of the ``events`` array to the
ingest endpoint replays them once the cause is fixed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec

from sv_otel.event import Event

__all__ = ["DeadLetterFile"]

_ENCODER = msgspec.json.Encoder()


class _Line(msgspec.Struct):
    time: str
    pipeline: str
    exporter: str
    error: str
    events: Sequence[Event]


class DeadLetterFile:
    """Appends failed batches for one pipeline's exporter."""

    def __init__(self, directory: Path, pipeline: str, exporter: str) -> None:
        self.pipeline = pipeline
        self.exporter = exporter
        safe = f"{pipeline}.{exporter}".replace("/", "_")
        self.path = directory / f"{safe}.jsonl"

    async def write(self, events: Sequence[Event], error: str) -> None:
        """Append one line holding ``events`` and why they failed."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = _ENCODER.encode(_Line(stamp, self.pipeline, self.exporter, error, events)) + b"\n"
        await asyncio.to_thread(self._append, line)

    def _append(self, line: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab") as out:
            out.write(line)
