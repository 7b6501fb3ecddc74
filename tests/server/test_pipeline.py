"""Processors between the receivers and the queue: process, poll and shutdown all reach export."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from sv_otel.errors import ConfigurationError, QueueFullError
from sv_otel.event import Event
from sv_otel.otlp_json import decode_json
from sv_otel.queue import DurableQueue
from sv_otel.server.config import PipelineConfig, load_config
from sv_otel.server.pipeline import Pipeline, ReceiverSink
from sv_otel.server.registry import Registry
from sv_otel.server.runtime import Gateway
from sv_otel.server.section import ConfigSection
from sv_otel.translate import logs_to_events
from tests.gateway import gateway_config, ingest_url
from tests.helpers import event_json

pytestmark = pytest.mark.anyio


class FirstSight:
    """Adds ``session_start`` before a session's first event; ``session_end`` for each at stop."""

    def __init__(self, name: str, marker: str) -> None:
        self.name = name
        self.marker = marker
        self.seen: dict[str, int] = {}
        self.polled = False

    def process(self, events: Sequence[Event], now_ms: int) -> list[Event]:
        out: list[Event] = []
        for event in events:
            if event.session_id not in self.seen:
                self.seen[event.session_id] = event.timestamp
                out.append(self._event("session_start", event.session_id, event.timestamp))
            out.append(event)
        return out

    def poll(self, now_ms: int) -> list[Event]:
        if self.polled or not self.seen:
            return []
        self.polled = True
        return [self._event("tick", session, now_ms) for session in self.seen]

    def shutdown(self, now_ms: int) -> list[Event]:
        return [self._event("session_end", session, now_ms) for session in self.seen]

    def _event(self, name: str, session: str, timestamp: int) -> Event:
        return Event(
            event=name, timestamp=timestamp, session_id=session, properties={"by": self.marker}
        )


class Broken:
    name = "broken"

    def process(self, events: Sequence[Event], now_ms: int) -> list[Event]:
        raise RuntimeError("bug")

    def poll(self, now_ms: int) -> list[Event]:
        raise RuntimeError("bug")

    def shutdown(self, now_ms: int) -> list[Event]:
        return []


def parse_marker(section: ConfigSection) -> str:
    marker = section.string("marker", "x")
    section.finish()
    return marker


def registry() -> Registry:
    found = Registry()
    found.register(
        "processor", "firstsight", parse_marker, lambda marker, ctx: FirstSight(ctx.name, marker)
    )
    found.register("processor", "broken", lambda s: s.finish(), lambda _, ctx: Broken())
    return found


async def test_processor_events_from_process_poll_and_shutdown_are_exported(
    tmp_path: Path,
) -> None:
    raw = gateway_config(tmp_path, {"file": None})
    raw["processors"] = {"firstsight": {"marker": "m"}, "broken": None}
    raw["service"]["pipelines"]["logs"]["processors"] = ["broken", "firstsight"]
    gateway = Gateway(load_config(raw, registry()))
    await gateway.start()
    async with httpx.AsyncClient() as client:
        url = ingest_url(gateway) + "/api/v1/ingest/events"
        response = await client.post(url, json=[event_json(event="a"), event_json(event="b")])
        assert response.status_code == 200
        processor = gateway.pipelines["logs"].processors[1]
        assert isinstance(processor, FirstSight)
        for _ in range(600):  # the gateway polls processors every second; 30 s at most
            if processor.polled:
                break
            await asyncio.sleep(0.05)
        assert processor.polled
    await gateway.stop()
    names = [
        event.event
        for line in (tmp_path / "export" / "logs.jsonl").read_bytes().splitlines()
        for event in logs_to_events(decode_json(line, ExportLogsServiceRequest))
    ]
    assert names == ["session_start", "a", "b", "tick", "session_end"]


def test_unknown_processor_types_and_keys_are_named() -> None:
    raw = gateway_config(Path("unused"), {"file": None})
    raw["processors"] = {"firstsight": {"marke": "m"}}
    with pytest.raises(ConfigurationError, match=r"processors\.firstsight\.marke: unknown key"):
        load_config(raw, registry())
    raw["processors"] = {"batch/eu": None}
    with pytest.raises(
        ConfigurationError, match=r"processors\.batch/eu: unknown processor type 'batch'"
    ):
        load_config(raw, registry())


async def test_processor_events_of_a_commit_that_cannot_be_written_are_kept(
    tmp_path: Path,
) -> None:
    # The room check passes, then the write fails (a full disk): the batch is refused, and the
    # session_start the processor made for it waits for the gateway's next poll.
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 30, consumers=[("logs", "c")])
    pages = queue._store._db.execute("PRAGMA page_count").fetchone()[0]
    queue._store._db.execute(f"PRAGMA max_page_count = {pages}")  # sqlite's SQLITE_FULL
    config = PipelineConfig("logs", "logs", ("sessionvision",), ("firstsight",), ("file",))
    pending: dict[str, list[Event]] = {}
    sink = ReceiverSink([Pipeline(config, [FirstSight("firstsight", "m")])], queue, pending)
    batch = [Event(event="a", timestamp=1, session_id="s1", properties={"pad": "x" * 100_000})]
    with pytest.raises(QueueFullError) as raised:
        await sink.submit(batch)
    assert raised.value.message == "queue: cannot write (database or disk is full); retry later"
    assert [(e.event, e.session_id) for e in pending["logs"]] == [("session_start", "s1")]
    await queue.close()
