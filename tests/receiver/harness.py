"""Sinks and a running receiver for the receiver tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sv_otel.components import EventExporter
from sv_otel.errors import PermanentExportError
from sv_otel.event import Event
from sv_otel.receiver import OTLPReceiver, ReceiverSettings
from tests.loop_thread import LoopThread


@dataclass
class RecordingSink:
    """Keeps every submitted batch; raises the queued errors first (one per call).

    ``refusals`` are usually ``QueueFullError``; any other exception stands for a broken sink.
    """

    batches: list[list[Event]] = field(default_factory=list)
    refusals: list[Exception] = field(default_factory=list)
    gate: asyncio.Event | None = None
    entered: int = 0

    @property
    def events(self) -> list[Event]:
        return [event for batch in self.batches for event in batch]

    async def submit(self, events: Sequence[Event]) -> None:
        if self.refusals:
            raise self.refusals.pop(0)
        self.entered += 1
        if self.gate is not None:
            await self.gate.wait()
        self.batches.append(list(events))


@dataclass
class ExportingSink:
    """Hands every batch straight to an exporter (the gateway's queue stands in here).

    Batches the exporter refuses for good are kept in ``dead_letters``, as the queue would.
    """

    exporter: EventExporter
    dead_letters: list[tuple[list[Event], str]] = field(default_factory=list)

    async def submit(self, events: Sequence[Event]) -> None:
        try:
            await self.exporter.export(events)
        except PermanentExportError as error:
            self.dead_letters.append((list(events), error.message))


def settings(**overrides: Any) -> ReceiverSettings:
    """Receiver settings on free loopback ports."""
    values: dict[str, Any] = {"grpc_address": "127.0.0.1:0", "http_address": "127.0.0.1:0"}
    values.update(overrides)
    return ReceiverSettings(**values)


@contextlib.contextmanager
def running_receiver(loop: LoopThread, sink: Any, **overrides: Any) -> Iterator[OTLPReceiver]:
    """Start an :class:`OTLPReceiver` on ``loop`` with :func:`settings` ``(**overrides)``."""
    receiver = OTLPReceiver(sink, settings(**overrides))
    loop.run(receiver.start())
    try:
        yield receiver
    finally:
        loop.run(receiver.stop(1.0))
