"""The delivery loop: retries through an outage without loss, dead-letters permanent failures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import grpc
import msgspec
import pytest

from sv_otel.batch import parse_batch
from sv_otel.components import EventExporter
from sv_otel.errors import PermanentExportError
from sv_otel.event import Event
from sv_otel.exporter.deadletter import DeadLetterFile
from sv_otel.exporter.delivery import DeliveryLoop
from sv_otel.exporter.otlp_grpc import OTLPGrpcExporter
from sv_otel.exporter.otlp_settings import OTLPSettings
from sv_otel.exporter.retry import RetryPolicy
from sv_otel.queue import SESSION_JSON, DurableQueue, is_session_json
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.session_json import SessionJson
from sv_otel.sessionvision import SessionvisionFileExporter
from tests.sinks import Failure, grpc_sink

pytestmark = pytest.mark.anyio

FAST = RetryPolicy(initial_interval=0.01, max_interval=0.05)


def _loop(
    queue: DurableQueue,
    exporter: EventExporter,
    dead_letters: Path,
    *,
    metrics: GatewayMetrics | None = None,
    max_batch_events: int = 1000,
) -> DeliveryLoop:
    """A delivery loop of pipeline ``logs`` with fast retries, dead-lettering under a folder."""
    return DeliveryLoop(
        queue,
        "logs",
        exporter,
        policy=FAST,
        metrics=metrics or GatewayMetrics(),
        max_batch_events=max_batch_events,
        dead_letter=DeadLetterFile(dead_letters, "logs", exporter.name),
    )


def batch(start: int, count: int) -> list[Event]:
    return [Event(event=f"e{i}", timestamp=i, session_id="s") for i in range(start, start + count)]


async def test_retryable_failures_delay_but_never_lose_events(tmp_path: Path) -> None:
    metrics = GatewayMetrics()
    async with grpc_sink() as (sink, port):
        sink.fail_next(3)  # UNAVAILABLE three times
        sink.fail_next(1, Failure(grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=0.01))
        queue = await DurableQueue.open(
            tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "otlp")]
        )
        exporter = OTLPGrpcExporter(
            "otlp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        loop = _loop(queue, exporter, tmp_path, metrics=metrics, max_batch_events=25)
        loop.start()
        for start in range(0, 100, 10):
            await queue.put({"logs": batch(start, 10)})
        await sink.wait_for_records(100)
        await loop.stop(drain=True, timeout=5)
        await exporter.shutdown()
        assert queue.queued_bytes == 0
        await queue.close()
    names = [name for _, name in sink.session_event_names()]
    assert sorted(names, key=lambda n: int(n[1:])) == [f"e{i}" for i in range(100)]
    assert metrics.retries.labels("otlp")._value.get() == 4
    assert metrics.sent.labels("otlp")._value.get() == 100
    assert not (tmp_path / "logs.otlp.jsonl").exists()


async def test_permanent_failures_go_to_the_dead_letter_file(tmp_path: Path) -> None:
    metrics = GatewayMetrics()
    async with grpc_sink() as (sink, port):
        sink.fail_next(1, Failure(grpc.StatusCode.INVALID_ARGUMENT))
        queue = await DurableQueue.open(
            tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "otlp")]
        )
        exporter = OTLPGrpcExporter(
            "otlp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        loop = _loop(queue, exporter, tmp_path / "dl", metrics=metrics)
        await queue.put({"logs": batch(0, 2)})
        loop.start()
        while metrics.dead_lettered.labels("otlp")._value.get() < 2:
            await asyncio.sleep(0.01)
        await queue.put({"logs": batch(2, 1)})
        await sink.wait_for_records(1)
        await loop.stop(drain=True, timeout=5)
        await exporter.shutdown()
        await queue.close()
    (line,) = (tmp_path / "dl" / "logs.otlp.jsonl").read_bytes().splitlines()
    dead = msgspec.json.decode(line)
    assert dead["error"] == "gRPC INVALID_ARGUMENT: scripted failure"
    assert (dead["pipeline"], dead["exporter"]) == ("logs", "otlp")
    assert [e["event"] for e in dead["events"]] == ["e0", "e1"]
    assert dead["events"][0]["sessionId"] == "s"
    assert [name for _, name in sink.session_event_names()] == ["e2"]


async def test_stop_without_drain_leaves_undelivered_events_queued(tmp_path: Path) -> None:
    async with grpc_sink() as (sink, port):
        sink.fail_next(1000)
        queue = await DurableQueue.open(
            tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "otlp")]
        )
        exporter = OTLPGrpcExporter(
            "otlp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        loop = _loop(queue, exporter, tmp_path)
        await queue.put({"logs": batch(0, 3)})
        loop.start()
        while sink.attempts < 2:
            await asyncio.sleep(0.01)
        await loop.stop(drain=True, timeout=0.2)
        await exporter.shutdown()
        assert queue.queued_events == {"logs": 3}
        await queue.close()


class _RefusesOneSession:
    """An exporter whose destination takes every session's events but session ``bad``'s."""

    name = "partial"

    async def export(self, events: Sequence[Event]) -> None:
        refused = [event for event in events if event.session_id == "bad"]
        if refused:
            raise PermanentExportError("1 of 2 requests were rejected", events=refused)

    async def shutdown(self) -> None:
        """Nothing to close."""


async def test_only_the_refused_part_of_a_batch_is_dead_lettered(tmp_path: Path) -> None:
    metrics = GatewayMetrics()
    queue = await DurableQueue.open(
        tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "partial")]
    )
    loop = _loop(queue, _RefusesOneSession(), tmp_path / "dl", metrics=metrics)
    bad = [Event(event="x", timestamp=9, session_id="bad")]
    await queue.put({"logs": [*batch(0, 3), *bad]})
    loop.start()
    await loop.stop(drain=True, timeout=5)
    await queue.close()
    (line,) = (tmp_path / "dl" / "logs.partial.jsonl").read_bytes().splitlines()
    assert [e["sessionId"] for e in msgspec.json.decode(line)["events"]] == ["bad"]
    assert metrics.dead_lettered.labels("partial")._value.get() == 1
    assert metrics.sent.labels("partial")._value.get() == 3


class _CountingFileExporter(SessionvisionFileExporter):
    """The file exporter, noting which of its two ways each batch came in."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.calls: list[str] = []

    async def export(self, events: Sequence[Event]) -> None:
        self.calls.append("export")
        await super().export(events)

    async def export_session_json(self, batch: SessionJson) -> None:
        self.calls.append("export_session_json")
        await super().export_session_json(batch)


async def test_events_queued_as_json_by_session_reach_the_exporter_unencoded(
    tmp_path: Path,
) -> None:
    path, consumers = tmp_path / "q.db", [("logs", "sessionvision_file")]
    older = await DurableQueue.open(path, max_bytes=1 << 20, consumers=consumers)
    await older.put({"logs": batch(0, 2)})  # queued as events, before the codec was chosen
    await older.close()
    queue = await DurableQueue.open(
        path, max_bytes=1 << 20, consumers=consumers, codecs={"logs": SESSION_JSON}
    )
    exporter = _CountingFileExporter(tmp_path / "out.jsonl")
    # The older record alone first, then the newer ones.
    loop = _loop(queue, exporter, tmp_path, max_batch_events=2)
    other = [Event(event="o", timestamp=9, session_id="t")]
    await queue.put({"logs": [*batch(2, 2), *other]})
    await queue.put({"logs": batch(4, 2)})
    stored = await queue.read_after("logs", 0, max_events=100)
    assert [is_session_json(record) for record in stored] == [False] + [True] * (len(stored) - 1)
    loop.start()
    await loop.stop(drain=True, timeout=5)
    await exporter.shutdown()
    assert queue.queued_bytes == 0
    await queue.close()
    assert exporter.calls == ["export", "export_session_json", "export_session_json"]
    written = parse_batch((tmp_path / "out.jsonl").read_bytes()).events
    assert written[:2] == batch(0, 2)  # the older records, read back as events
    assert sorted(written[2:], key=lambda e: e.timestamp) == [*batch(2, 4), *other]
