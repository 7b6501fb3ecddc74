"""The real ``sv-otel serve`` process: no acknowledged event is lost to ``kill -9``."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from tests.gateway import gateway_config
from tests.helpers import event_json
from tests.serving import ServeProcess
from tests.sessionvision.ingest_server import IngestServer
from tests.sinks import grpc_sink

pytestmark = pytest.mark.anyio

PATH = "/api/v1/ingest/events"


async def send_until_killed(
    url: str, server: ServeProcess, acked: set[int], batches: int, kill_after: int
) -> None:
    next_batch = 0
    lock = asyncio.Lock()
    killed: list[bool] = []

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal next_batch
        while True:
            async with lock:
                if next_batch >= batches:
                    return
                number = next_batch
                next_batch += 1
            seqs = range(number * 10, number * 10 + 10)
            body = [event_json(event=f"seq{seq}") for seq in seqs]
            try:
                response = await client.post(url + PATH, json=body)
            except httpx.HTTPError:
                continue  # not acknowledged: may or may not arrive
            if response.status_code == 200:
                acked.update(seqs)
            if len(acked) >= kill_after * 10 and not killed:
                killed.append(True)
                server.process.send_signal(signal.SIGKILL)

    async with httpx.AsyncClient(timeout=5.0) as client:
        await asyncio.gather(*(worker(client) for _ in range(8)))


async def test_kill_9_during_load_then_restart_loses_no_acknowledged_event(
    tmp_path: Path,
) -> None:
    async with grpc_sink() as (sink, port):
        config = gateway_config(
            tmp_path / "data",
            {
                "otlp": {
                    "endpoint": f"http://127.0.0.1:{port}",
                    "retry_on_failure": {"initial_interval": "50ms", "max_interval": "200ms"},
                }
            },
        )
        server = await ServeProcess.start(config, tmp_path / "sv.yaml")
        acked: set[int] = set()
        await send_until_killed(server.url, server, acked, batches=400, kill_after=150)
        exit_status = await server.wait()
        assert exit_status == -signal.SIGKILL, server.log
        assert len(acked) >= 1500

        restarted = await ServeProcess.start(config, tmp_path / "sv.yaml")

        async def all_delivered() -> None:
            while not acked <= delivered(sink.session_event_names()):
                sink.arrived.clear()
                await sink.arrived.wait()

        await asyncio.wait_for(all_delivered(), 60)
        exit_status = await restarted.stop()
        assert exit_status == 0, restarted.log
    received = [name for _, name in sink.session_event_names()]
    duplicates = len(received) - len(set(received))
    print(f"acknowledged {len(acked)}, received {len(received)}, duplicates {duplicates}")
    assert acked <= delivered(sink.session_event_names())


def delivered(pairs: list[tuple[str, str]]) -> set[int]:
    return {int(name.removeprefix("seq")) for _, name in pairs}


async def test_sigterm_drains_the_queue_before_exiting(tmp_path: Path) -> None:
    async with grpc_sink() as (sink, port):
        config = gateway_config(
            tmp_path / "data", {"otlp": {"endpoint": f"http://127.0.0.1:{port}"}}
        )
        server = await ServeProcess.start(config, tmp_path / "sv.yaml")
        async with httpx.AsyncClient() as client:
            for index in range(10):
                body = [event_json(event=f"seq{index * 10 + n}") for n in range(10)]
                assert (await client.post(server.url + PATH, json=body)).status_code == 200
        exit_status = await server.stop(signal.SIGTERM)
        assert exit_status == 0, server.log
    assert delivered(sink.session_event_names()) == set(range(100))
    assert b"worker 0 stopping" in b"".join(server.output)


async def test_kill_9_loses_no_event_queued_as_json_for_an_ingest_host(tmp_path: Path) -> None:
    host = IngestServer()
    await host.start()
    try:
        config = gateway_config(tmp_path / "data", {"sessionvision": {"endpoint": host.url}})
        server = await ServeProcess.start(config, tmp_path / "sv.yaml")
        acked: set[int] = set()
        await send_until_killed(server.url, server, acked, batches=300, kill_after=100)
        assert await server.wait() == -signal.SIGKILL, server.log
        assert len(acked) >= 1000

        restarted = await ServeProcess.start(config, tmp_path / "sv.yaml")

        def arrived() -> set[int]:
            return {int(event.event.removeprefix("seq")) for event in host.events}

        async def all_delivered() -> None:
            while not acked <= arrived():
                await asyncio.sleep(0.05)

        await asyncio.wait_for(all_delivered(), 60)
        assert await restarted.stop() == 0, restarted.log
    finally:
        await host.stop()
    assert acked <= arrived()
