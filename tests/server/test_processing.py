"""The processors' timed and shutdown output reaches the queue; their routes face browsers only."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from pathlib import Path

import pytest
from starlette.routing import BaseRoute, Route

from sv_otel.errors import QueueFullError
from sv_otel.event import Event
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.ingest.settings import IngestSettings
from sv_otel.queue import DurableQueue, decode_events
from sv_otel.receiver.settings import ReceiverSettings
from sv_otel.server.config import Component, PipelineConfig
from sv_otel.server.pipeline import Pipeline, ReceiverSink
from sv_otel.server.processing import ProcessorOutput, processor_routes
from sv_otel.server.registry import Registry

pytestmark = pytest.mark.anyio

_CONFIG = PipelineConfig("logs", "logs", ("sessionvision",), ("first", "second"), ("file",))


class Ticker:
    """Produces one ``<name>.poll`` event per poll and ``<name>.end`` at shutdown; marks what
    passes through it by adding its name to the event's ``seen_by`` property."""

    def __init__(self, name: str, *, fail: bool = False) -> None:
        self.name = name
        self.fail = fail
        self.polls = 0

    def process(self, events: Sequence[Event], now_ms: int) -> list[Event]:
        return [
            Event(
                event=e.event,
                timestamp=e.timestamp,
                session_id=e.session_id,
                properties={"seen_by": [*e.properties.get("seen_by", []), self.name]},
            )
            for e in events
        ]

    def poll(self, now_ms: int) -> list[Event]:
        if self.fail:
            raise RuntimeError(f"{self.name} broke")
        self.polls += 1
        return [Event(event=f"{self.name}.poll", timestamp=now_ms, session_id="s1")]

    def shutdown(self, now_ms: int) -> list[Event]:
        return [Event(event=f"{self.name}.end", timestamp=now_ms, session_id="s1")]


async def queued(queue: DurableQueue) -> list[tuple[str, object]]:
    records = await queue.read("logs", "c", max_events=1000)
    return [(e.event, e.properties.get("seen_by")) for e in decode_events(records)]


async def test_polled_output_runs_through_the_processors_after_its_producer(
    tmp_path: Path,
) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "c")])
    pipeline = Pipeline(_CONFIG, [Ticker("first"), Ticker("second")])
    output = ProcessorOutput({"logs": pipeline}, queue, {})
    await output.collect(lambda processor, now: processor.poll(now))
    assert await queued(queue) == [("first.poll", ["second"]), ("second.poll", None)]
    await queue.close()


async def test_a_failing_processor_is_logged_and_the_others_still_produce(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "c")])
    pipeline = Pipeline(_CONFIG, [Ticker("first", fail=True), Ticker("second")])
    output = ProcessorOutput({"logs": pipeline}, queue, {})
    with caplog.at_level(logging.ERROR, logger="sv_otel.server.processing"):
        await output.collect(lambda processor, now: processor.poll(now))
    assert await queued(queue) == [("second.poll", None)]
    assert "logs: processor first failed" in caplog.text
    await queue.close()


async def test_output_the_full_queue_refuses_is_kept_and_queued_first_next_time(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1, consumers=[("logs", "c")])
    pending: dict[str, list[Event]] = {}
    pipeline = Pipeline(_CONFIG, [Ticker("first"), Ticker("second")])
    output = ProcessorOutput({"logs": pipeline}, queue, pending)
    with caplog.at_level(logging.WARNING, logger="sv_otel.server.processing"):
        await output.collect(lambda processor, now: processor.poll(now))
    assert "queue full: processor events kept for the next poll" in caplog.text
    assert [e.event for e in pending["logs"]] == ["first.poll", "second.poll"]
    # Room again: the kept events go first, ahead of what the next poll produces.
    queue.max_bytes = 1 << 20
    await output.collect(lambda processor, now: processor.poll(now))
    assert [event for event, _ in await queued(queue)] == [
        "first.poll",
        "second.poll",
        "first.poll",
        "second.poll",
    ]
    assert pending == {}
    await queue.close()


async def test_shutdown_output_is_queued_and_what_cannot_be_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1, consumers=[("logs", "c")])
    output = ProcessorOutput({"logs": Pipeline(_CONFIG, [Ticker("first")])}, queue, {})
    with caplog.at_level(logging.ERROR, logger="sv_otel.server.processing"):
        await output.shutdown()
    assert "1 processor events could not be queued at shutdown" in caplog.text
    with pytest.raises(QueueFullError):
        await queue.put({"logs": [Event(event="x", timestamp=1, session_id="s1")]})
    await queue.close()


class RouteMaker(Ticker):
    """A processor that serves one route, recording what it was given."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.given: list[tuple[CorsPolicy, float]] = []

    def http_routes(
        self,
        submit: Callable[[Sequence[Event]], Awaitable[None]],
        cors: CorsPolicy,
        body_timeout: float,
    ) -> Sequence[BaseRoute]:
        self.given.append((cors, body_timeout))
        return [Route(f"/{self.name}", lambda request: None)]


def _receiver(type_name: str, settings: object) -> Component:
    return Component(type_name, Registry().get("receiver", type_name, "test"), settings)


async def test_route_providers_serve_on_a_browser_facing_receiver_with_its_policy(
    tmp_path: Path,
) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "c")])
    maker = RouteMaker("start")
    feeds = [Pipeline(_CONFIG, [Ticker("first"), maker])]
    sink = ReceiverSink(feeds, queue)
    cors = CorsPolicy.create(("https://app.example",), (), 600)
    settings = replace(IngestSettings(), cors=cors, body_timeout=3.5)
    routes = processor_routes(_receiver("sessionvision", settings), feeds, sink)
    assert [route.path for route in routes if isinstance(route, Route)] == ["/start"]
    assert maker.given == [(cors, 3.5)]
    await queue.close()


async def test_a_receiver_without_a_cors_policy_serves_no_processor_routes(
    tmp_path: Path,
) -> None:
    queue = await DurableQueue.open(tmp_path / "q.db", max_bytes=1 << 20, consumers=[("logs", "c")])
    maker = RouteMaker("start")
    feeds = [Pipeline(_CONFIG, [maker])]
    otlp = _receiver("otlp", ReceiverSettings())
    assert processor_routes(otlp, feeds, ReceiverSink(feeds, queue)) == ()
    assert maker.given == []
    await queue.close()
