"""The sessionvision exporter: configuration, and resends that neither lose nor duplicate."""

from __future__ import annotations

import gzip
from typing import Any

import pytest

from sv_otel.errors import ConfigurationError, PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.session_json import SessionJson, encode_session_json
from sv_otel.sessionvision import (
    IngestClient,
    SessionvisionExporter,
    SessionvisionExporterConfig,
)
from tests.loop_thread import LoopThread
from tests.sessionvision.ingest_server import running_ingest_server


def _events(sessions: int) -> list[Event]:
    return [
        Event(event="click", timestamp=1_709_856_000_000 + s, session_id=f"s{s}")
        for s in range(sessions)
    ]


def test_config_from_mapping_with_defaults() -> None:
    config = SessionvisionExporterConfig.from_mapping({"endpoint": "https://ingest.example.com"})
    assert config == SessionvisionExporterConfig(endpoint="https://ingest.example.com")
    assert (config.max_events, config.max_bytes, config.timeout) == (500, 1024 * 1024, 10.0)
    full = SessionvisionExporterConfig.from_mapping(
        {
            "endpoint": "http://127.0.0.1:9",
            "token": "sv_pub_1",
            "max_events": 10,
            "max_bytes": 2048,
            "timeout": 3,
            "max_concurrency": 2,
        }
    )
    assert full.timeout == 3.0 and full.token == "sv_pub_1" and full.max_concurrency == 2


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({}, "sessionvision exporter: 'endpoint' is required"),
        (
            {"endpoint": "https://x", "retries": 3},
            "sessionvision exporter: unknown setting 'retries'; known: endpoint, token, "
            "max_events, max_bytes, timeout, max_concurrency, compression_level, max_sessions",
        ),
        ({"endpoint": 5}, "sessionvision exporter: endpoint: expected str, got 5"),
        (
            {"endpoint": "https://x", "max_events": "10"},
            "sessionvision exporter: max_events: expected int, got '10'",
        ),
        (
            {"endpoint": "https://x", "timeout": True},
            "sessionvision exporter: timeout: expected int or float, got True",
        ),
    ],
)
def test_config_errors(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SessionvisionExporterConfig.from_mapping(mapping)
    assert caught.value.message == message


def test_a_retried_batch_sends_only_what_was_not_delivered(loop: LoopThread) -> None:
    events = _events(3)
    with running_ingest_server(loop) as server:

        async def scenario() -> None:
            config = SessionvisionExporterConfig(endpoint=server.url, max_concurrency=1)
            client = IngestClient(server.url, max_concurrency=1, retry_delays=())
            exporter = SessionvisionExporter(config, name="sessionvision/test", client=client)
            server.plan(200, 500)  # the second session's post fails, with no retry left
            with pytest.raises(RetryableExportError):
                await exporter.export(events)
            await exporter.export(events)  # the queue's retry of the same batch
            await exporter.export(events)  # done: the same events later are posted again
            await exporter.shutdown()

        loop.run(scenario())
    assert [r.status for r in server.received] == [200, 500, 200, 200, 200, 200, 200]
    assert sorted(e.session_id for e in server.events[:3]) == ["s0", "s1", "s2"]  # each once
    assert server.events[3:] == events


def test_exporter_builds_its_client_from_the_config(loop: LoopThread) -> None:
    with running_ingest_server(loop) as server:

        async def scenario() -> None:
            exporter = SessionvisionExporter(
                SessionvisionExporterConfig(endpoint=server.url, token="sv_pub_9", max_events=1)
            )
            assert (exporter.name, exporter.type) == ("sessionvision", "sessionvision")
            await exporter.export(_events(1) * 2)
            await exporter.shutdown()

        loop.run(scenario())
    assert [len(r.events) for r in server.received] == [1, 1]
    assert {r.token for r in server.received} == {"sv_pub_9"}


def _mixed(count: int) -> list[Event]:
    return [
        Event(event=f"e{i}", timestamp=i, session_id=f"s{i % 3}", properties={"i": i, "f": 0.5})
        for i in range(count)
    ]


def test_events_queued_as_json_are_posted_as_the_events_themselves_are(loop: LoopThread) -> None:
    events = _mixed(10)
    stored = [encode_session_json(events[:4]), encode_session_json(events[4:])]
    with running_ingest_server(loop) as server:

        async def scenario() -> None:
            config = SessionvisionExporterConfig(endpoint=server.url, max_events=2)
            exporter = SessionvisionExporter(config)
            await exporter.export(events)
            first = len(server.received)
            await exporter.export_session_json(SessionJson.of_payloads(stored))
            assert len(server.received) == 2 * first
            await exporter.shutdown()

        loop.run(scenario())
    half = len(server.received) // 2
    assert half == 6  # sessions of 4, 3 and 3 events, two events a post
    posted = [gzip.decompress(r.body) for r in server.received]
    assert sorted(posted[:half]) == sorted(posted[half:])
    second = [event for request in server.received[half:] for event in request.events]
    assert sorted(second, key=lambda e: e.timestamp) == events


def test_a_retried_json_batch_sends_only_what_was_not_delivered(loop: LoopThread) -> None:
    events = _events(3)
    batch = SessionJson.of_payloads([encode_session_json(events)])
    with running_ingest_server(loop) as server:

        async def scenario() -> None:
            config = SessionvisionExporterConfig(endpoint=server.url, max_concurrency=1)
            client = IngestClient(server.url, max_concurrency=1, retry_delays=())
            exporter = SessionvisionExporter(config, client=client)
            server.plan(200, 500)
            with pytest.raises(RetryableExportError):
                await exporter.export_session_json(batch)
            await exporter.export_session_json(batch)  # the queue's retry of the same batch
            await exporter.shutdown()

        loop.run(scenario())
    assert [r.status for r in server.received] == [200, 500, 200, 200]
    assert sorted(e.session_id for e in server.events) == ["s0", "s1", "s2"]  # each once


def test_a_refused_json_batch_names_its_events_for_the_dead_letter_file(
    loop: LoopThread,
) -> None:
    events = _mixed(4)
    with running_ingest_server(loop) as server:

        async def scenario() -> PermanentExportError:
            config = SessionvisionExporterConfig(endpoint=server.url, max_concurrency=1)
            exporter = SessionvisionExporter(config)
            server.plan(200, 400)  # the second session is refused
            with pytest.raises(PermanentExportError) as refused:
                await exporter.export_session_json(SessionJson.of_events(events))
            await exporter.shutdown()
            return refused.value

        error = loop.run(scenario())
    assert error.events == [events[1]]  # session s1's one event


def test_damaged_queued_json_that_must_be_cut_is_refused_for_good(loop: LoopThread) -> None:
    batch = SessionJson()
    batch.pieces = {"s": [(2, b'{"event":"a","timestamp":1,"sessionId":"s"},[')]}
    with running_ingest_server(loop) as server:

        async def scenario() -> None:
            config = SessionvisionExporterConfig(endpoint=server.url, max_events=1)
            exporter = SessionvisionExporter(config)
            with pytest.raises(PermanentExportError, match=r"^queued events are damaged: "):
                await exporter.export_session_json(batch)  # two events, one a post: cut
            await exporter.shutdown()

        loop.run(scenario())
    assert server.received == []


def test_a_refused_body_that_does_not_read_back_refuses_the_whole_batch(
    loop: LoopThread,
) -> None:
    batch = SessionJson()
    batch.pieces = {"s": [(1, b'{"event":')]}  # sent as it is, refused by the host
    with running_ingest_server(loop) as server:

        async def scenario() -> PermanentExportError:
            exporter = SessionvisionExporter(SessionvisionExporterConfig(endpoint=server.url))
            server.plan(400)
            with pytest.raises(PermanentExportError) as refused:
                await exporter.export_session_json(batch)
            await exporter.shutdown()
            return refused.value

        error = loop.run(scenario())
    assert error.events is None  # the delivery loop dead-letters what it can read of the batch
