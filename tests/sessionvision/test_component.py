"""The ``sessionvision`` and ``sessionvision_file`` exporter types: settings and creation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.event import Event
from sv_otel.exporter.retry import RetryPolicy
from sv_otel.queue import DurableQueue
from sv_otel.server.config import load_config
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.server.registry import REGISTRY, ComponentContext
from sv_otel.server.runtime import Gateway
from sv_otel.server.section import ConfigSection
from sv_otel.sessionvision import SessionvisionExporterConfig
from sv_otel.sessionvision.component import (
    SessionvisionFileSettings,
    SessionvisionSettings,
    create_sessionvision_exporter,
    create_sessionvision_file_exporter,
    parse_sessionvision_file_settings,
    parse_sessionvision_settings,
)
from tests.loop_thread import LoopThread
from tests.sessionvision.ingest_server import running_ingest_server

PATH = "exporters.sessionvision"


def parse(raw: Any) -> SessionvisionSettings:
    return parse_sessionvision_settings(ConfigSection(raw, PATH))


def context(tmp_path: Path, **overrides: Any) -> ComponentContext:
    values: dict[str, Any] = {"name": "sessionvision", "data_dir": tmp_path}
    values["metrics"] = GatewayMetrics()
    values.update(overrides)
    return ComponentContext(**values)


def test_defaults_are_the_clients() -> None:
    assert parse({"endpoint": "https://ingest.example.com"}) == SessionvisionSettings(
        SessionvisionExporterConfig(endpoint="https://ingest.example.com")
    )


def test_every_setting() -> None:
    settings = parse(
        {
            "endpoint": "http://127.0.0.1:9000",
            "token": "sv_pub_1",
            "headers": {"X-Sessionvision-Token": "sv_pub_1"},
            "max_events": 50,
            "max_bytes": "64KiB",
            "timeout": "1500ms",
            "max_concurrency": 2,
            "compression_level": 9,
            "retry_on_failure": {"initial_interval": "2s", "max_elapsed_time": "1m"},
            "batch": {"max_events": 100},
        }
    )
    assert settings == SessionvisionSettings(
        SessionvisionExporterConfig(
            endpoint="http://127.0.0.1:9000",
            token="sv_pub_1",
            max_events=50,
            max_bytes=65536,
            timeout=1.5,
            max_concurrency=2,
            compression_level=9,
        ),
        headers={"X-Sessionvision-Token": "sv_pub_1"},
        retry=RetryPolicy(initial_interval=2.0, max_elapsed_time=60.0),
        max_batch_events=100,
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            None,
            "exporters.sessionvision.endpoint: required (the ingest host, e.g. https://app.example.com)",
        ),
        (
            {"endpoint": "ingest.example.com"},
            "exporters.sessionvision.endpoint: expected an http(s) URL such as "
            "https://app.sessionvision.com, got 'ingest.example.com'",
        ),
        (
            {"endpoint": "http://h", "timeout": 0},
            "exporters.sessionvision.timeout: expected a duration above 0",
        ),
        (
            {"endpoint": "http://h", "max_events": 0},
            "exporters.sessionvision.max_events: expected an integer of at least 1, got 0",
        ),
        (
            {"endpoint": "http://h", "retry_on_failure": {"multiplier": 0.5}},
            "exporters.sessionvision.retry_on_failure.multiplier: expected a number of at "
            "least 1.0, got 0.5",
        ),
        (
            {"endpoint": "http://h", "compression_level": 10},
            "exporters.sessionvision.compression_level: expected 1 to 9, got 10",
        ),
        (
            {"endpoint": "http://h", "tokens": ["a"]},
            "exporters.sessionvision.tokens: unknown key (expected one of: batch, "
            "compression_level, endpoint, headers, max_bytes, max_concurrency, max_events, "
            "retry_on_failure, timeout, token)",
        ),
    ],
)
def test_bad_values_are_named(raw: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse(raw)
    assert caught.value.message == message


def test_the_exporter_posts_with_the_configured_headers_and_token(
    tmp_path: Path, loop: LoopThread
) -> None:
    event = Event(event="$log", timestamp=1, session_id="s", properties={"body": "hi"})
    with running_ingest_server(loop) as ingest:
        settings = parse({"endpoint": ingest.url + "/", "token": "t1", "headers": {"X-Extra": "1"}})
        exporter = create_sessionvision_exporter(
            settings, context(tmp_path, name="sessionvision/eu")
        )
        loop.run(exporter.export([event]))
        loop.run(exporter.shutdown())
    assert exporter.name == "sessionvision/eu"
    [request] = ingest.received
    assert (request.headers["x-extra"], request.token, request.events) == ("1", "t1", [event])


def test_the_file_goes_to_the_data_directory_one_per_worker(tmp_path: Path) -> None:
    default = parse_sessionvision_file_settings(ConfigSection(None, "exporters.sessionvision_file"))
    assert default == SessionvisionFileSettings()
    one = create_sessionvision_file_exporter(default, context(tmp_path))
    assert one.path == tmp_path / "export" / "sessionvision.jsonl"
    assert one.path.parent.is_dir()
    mine = SessionvisionFileSettings(path=str(tmp_path / "out" / "events.jsonl"))
    second = create_sessionvision_file_exporter(mine, context(tmp_path, worker=1, workers=2))
    assert second.path == tmp_path / "out" / "events.1.jsonl"


def test_the_gateway_reads_batches_of_the_exporters_own_size(
    tmp_path: Path, loop: LoopThread
) -> None:
    events = [Event(event=f"e{n}", timestamp=n, session_id="s") for n in range(5)]

    async def backlog() -> None:  # five records queued by an earlier run
        queue = await DurableQueue.open(
            tmp_path / "queue" / "shard-0.db",
            max_bytes=1 << 20,
            consumers=[("logs", "sessionvision")],
        )
        for event in events:
            await queue.put({"logs": [event]})
        await queue.close()

    loop.run(backlog())
    with running_ingest_server(loop) as ingest:
        raw = {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
            "exporters": {"sessionvision": {"endpoint": ingest.url, "batch": {"max_events": 2}}},
            "service": {
                "data_dir": str(tmp_path),
                "pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["sessionvision"]}},
            },
        }
        gateway = Gateway(load_config(raw, REGISTRY))
        loop.run(gateway.start())
        loop.run(gateway.stop())  # drains the queue
    assert [len(request.events) for request in ingest.received] == [2, 2, 1]
    assert ingest.events == events
