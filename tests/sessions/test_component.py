"""The ``sessions`` processor in a real gateway (in this process): lifecycle events and the start
endpoint on the ingest port, with the receiver's CORS policy, into a real OTLP/gRPC sink."""

from __future__ import annotations

import asyncio
import socket
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from sv_otel.components import EventProcessor
from sv_otel.event import Event
from sv_otel.server.config import load_config
from sv_otel.server.registry import REGISTRY, HttpRouteProvider
from sv_otel.server.runtime import Gateway
from sv_otel.sessions import SessionLifecycleProcessor, list_sessions
from sv_otel.sessions.component import SessionsProcessor
from tests.gateway import gateway_config, ingest_url, running
from tests.helpers import event_json
from tests.sessions._helpers import T0, attributes
from tests.sinks import Recorded, grpc_sink

pytestmark = pytest.mark.anyio

SECRET = "0123456789abcdef0123456789abcdef"
SHOP = "https://shop.example.com"
START = "/api/v1/sessions/start"
INGEST = "/api/v1/ingest/events"


def config(data_dir: Path, sink_port: int, sessions: dict[str, Any] | None) -> dict[str, Any]:
    raw = gateway_config(
        data_dir,
        {"otlp": {"endpoint": f"http://127.0.0.1:{sink_port}"}},
        protocols={"http": {"endpoint": "127.0.0.1:0", "cors": {"allowed_origins": [SHOP]}}},
    )
    raw["processors"] = {"sessions": sessions}
    raw["service"]["pipelines"]["logs"]["processors"] = ["sessions"]
    return raw


async def until(sink: Recorded, done: Callable[[], bool], timeout: float = 20.0) -> None:
    async def wait() -> None:
        while not done():
            sink.arrived.clear()
            await sink.arrived.wait()

    await asyncio.wait_for(wait(), timeout)


def names(sink: Recorded) -> list[str]:
    return [record.event_name for record in sink.log_records()]


async def test_the_processor_is_an_event_processor_serving_routes(tmp_path: Path) -> None:
    async with grpc_sink() as (_, port), running(config(tmp_path, port, None)) as gateway:
        [processor] = gateway.pipelines["logs"].processors
        assert isinstance(processor, SessionsProcessor)
        typed: EventProcessor = processor
        assert typed.name == "sessions"
        assert isinstance(processor, HttpRouteProvider)


async def test_the_start_endpoint_answers_on_the_ingest_port_and_feeds_the_pipeline(
    tmp_path: Path,
) -> None:
    sessions = {"start": {"secret": SECRET}}
    async with grpc_sink() as (sink, port), running(config(tmp_path, port, sessions)) as gateway:
        url = ingest_url(gateway)
        async with httpx.AsyncClient(base_url=url) as client:
            asks = {"Origin": SHOP, "Access-Control-Request-Method": "POST"}
            preflight = await client.options(START, headers=asks)
            assert (preflight.status_code, preflight.headers["access-control-allow-origin"]) == (
                204, SHOP,
            )  # fmt: skip
            refused = await client.post(START, json={}, headers={"Origin": "https://evil.example"})
            assert refused.status_code == 403
            assert refused.json() == {
                "success": False,
                "reason": "Origin: 'https://evil.example' is not an allowed origin",
            }
            started = await client.post(
                START,
                json={"userID": "jane", "metadata": {"plan": "pro"}},
                headers={"Origin": SHOP},
            )
            assert started.status_code == 200, started.text
            assert started.headers["access-control-allow-origin"] == SHOP
            session_id = started.json()["sessionID"]
            ingested = await client.post(INGEST, json=[event_json(sessionId=session_id)])
            assert ingested.status_code == 200
            assert (await client.get("/healthz")).status_code == 200  # still served beside it
            await until(sink, lambda: len(sink.log_records()) >= 3)
    # The graceful stop ended the session.
    assert names(sink) == ["session.start", "$start", "purchase_completed", "session.end"]
    start = attributes(sink.log_records()[0])
    assert (start["session.id"], start["user.id"], start["plan"]) == (session_id, "jane", "pro")
    end = attributes(sink.log_records()[3])
    assert end["sessionvision.session.end_reason"] == "shutdown"
    assert (end["sessionvision.session.events_count"], end["plan"]) == (2, "pro")


async def test_the_start_endpoint_waits_for_a_body_as_long_as_its_receiver(
    tmp_path: Path,
) -> None:
    raw = config(tmp_path, 1, {"start": {"secret": SECRET}})
    raw["receivers"]["sessionvision"]["body_timeout"] = "0.5s"
    async with running(raw) as gateway:
        port = int(ingest_url(gateway).rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: %s\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
            % (START.encode(), SHOP.encode())
        )
        started = asyncio.get_running_loop().time()
        answer = await asyncio.wait_for(reader.read(), 10)  # until the server closes
        waited = asyncio.get_running_loop().time() - started
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert body == b'{"success":false,"reason":"body: not received within 0.5 seconds"}'
    assert 0.3 < waited < 5


async def test_no_start_settings_no_start_endpoint(tmp_path: Path) -> None:
    raw = config(tmp_path, 0, None)
    async with running(raw) as gateway, httpx.AsyncClient() as client:
        response = await client.post(ingest_url(gateway) + START, json={})
    assert response.status_code == 404


async def test_receivers_that_do_not_feed_the_pipeline_do_not_serve_it(tmp_path: Path) -> None:
    async with grpc_sink() as (_, port):
        raw = config(tmp_path, port, {"start": {"secret": SECRET}})
        raw["receivers"]["sessionvision/other"] = {
            "protocols": {"http": {"endpoint": "127.0.0.1:0"}}
        }
        raw["service"]["pipelines"]["traces"] = {
            "receivers": ["sessionvision/other"],
            "exporters": ["otlp"],
        }
        async with running(raw) as gateway, httpx.AsyncClient() as client:
            main = await client.post(ingest_url(gateway) + START, json={})
            other = await client.post(ingest_url(gateway, "sessionvision/other") + START, json={})
    assert (main.status_code, other.status_code) == (200, 404)


async def test_a_gateway_that_fails_to_start_ends_no_session(tmp_path: Path) -> None:
    earlier = SessionLifecycleProcessor(tmp_path)
    earlier.process([Event(event="$pageview", timestamp=T0, session_id="s1")], now_ms=0)
    earlier.close()  # open on disk, as a running or crashed gateway leaves it
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        raw = config(tmp_path, 0, None)
        raw["receivers"]["sessionvision"]["protocols"]["http"]["endpoint"] = (
            f"127.0.0.1:{taken.getsockname()[1]}"
        )
        gateway = Gateway(load_config(raw, REGISTRY))
        with pytest.raises(OSError):
            await gateway.start()
        await gateway.stop()  # as serve does after a failed start
    [processor] = gateway.pipelines["logs"].processors
    assert isinstance(processor, SessionsProcessor)
    processor.lifecycle.close()
    assert [(d["secure_id"], d["processed"]) for d in list_sessions(tmp_path).documents] == [
        ("s1", False),
    ]  # fmt: skip


async def test_a_session_start_made_for_a_batch_the_full_queue_refused_still_arrives(
    tmp_path: Path,
) -> None:
    # The client sends the refused batch again, but the session has started by then: the
    # session.start made the first time must not be lost.
    pad = "x" * 3000
    first = [event_json(event="a", sessionId="s1", properties={"pad": pad})]
    second = [event_json(event="b", sessionId="s2", anonymousId="b", properties={"pad": pad})]
    async with grpc_sink() as (sink, port):
        sink.fail_next(1_000_000)  # the backend is down: the queue fills
        raw = config(tmp_path, port, None)
        raw["exporters"]["otlp"]["retry_on_failure"] = {"initial_interval": "50ms"}
        raw["service"]["queue"] = {"max_size": 5000}  # room for one of the batches
        async with running(raw) as gateway, httpx.AsyncClient() as client:
            url = ingest_url(gateway) + INGEST
            assert (await client.post(url, json=first)).status_code == 200
            assert (await client.post(url, json=second)).status_code == 503
            sink.failures.clear()  # the backend is back
            await until(sink, lambda: ("s2", "session.start") in sink.session_event_names())
            while (await client.post(url, json=second)).status_code == 503:  # as the SDK retries
                await asyncio.sleep(0.1)
            await until(sink, lambda: ("s2", "b") in sink.session_event_names())
    starts = Counter(s for s, name in sink.session_event_names() if name == "session.start")
    assert starts == Counter({"s1": 1, "s2": 1})
