"""A real gateway on 127.0.0.1 exporting to real OTLP gRPC and HTTP sinks."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import httpx
import msgspec
import pytest

from sv_otel.event import Event
from sv_otel.ids import session_trace_id
from sv_otel.queue import DurableQueue, is_session_json
from tests.gateway import gateway_config, ingest_url, running
from tests.helpers import event_json
from tests.sessionvision.ingest_server import HANG, IngestServer
from tests.sinks import grpc_sink, http_sink

pytestmark = pytest.mark.anyio

PATH = "/api/v1/ingest/events"


async def test_events_reach_grpc_logs_and_http_traces_sinks_as_the_mapping_table_says(
    tmp_path: Path,
) -> None:
    async with grpc_sink() as (logs_sink, grpc_port), http_sink() as (traces_sink, http_port):
        raw = gateway_config(
            tmp_path,
            {
                "otlp": {"endpoint": f"http://127.0.0.1:{grpc_port}"},
                "otlphttp": {"endpoint": f"http://127.0.0.1:{http_port}"},
            },
            traces=["otlphttp"],
        )
        raw["service"]["pipelines"]["logs"]["exporters"] = ["otlp"]
        event = event_json(
            properties={"$current_url": "https://shop.example/", "$browser": "Firefox", "n": 3}
        )
        body = gzip.compress(msgspec.json.encode([event]))
        async with running(raw) as gateway, httpx.AsyncClient() as client:
            response = await client.post(
                ingest_url(gateway) + PATH,
                content=body,
                headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
            )
            assert response.status_code == 200
            assert response.json() == {"accepted": 1, "rejected": 0, "errors": []}
            await logs_sink.wait_for_records(1)
            await traces_sink.wait_for_records(1)

    (record,) = logs_sink.log_records()
    attributes = {kv.key: kv.value for kv in record.attributes}
    assert record.event_name == "purchase_completed"
    assert record.time_unix_nano == event["timestamp"] * 1_000_000
    assert record.trace_id == session_trace_id(event["sessionId"])
    assert attributes["session.id"].string_value == event["sessionId"]
    assert attributes["user.id"].string_value == "user_456"
    assert attributes["enduser.pseudo.id"].string_value == event["anonymousId"]
    assert attributes["url.full"].string_value == "https://shop.example/"
    assert attributes["user_agent.name"].string_value == "Firefox"
    assert attributes["n"].int_value == 3
    assert traces_sink.span_events() == [
        (session_trace_id(event["sessionId"]), "purchase_completed")
    ]
    assert traces_sink.headers[0]["content-type"] == "application/x-protobuf"


async def test_http_json_exporter_sends_otlp_json(tmp_path: Path) -> None:
    async with http_sink() as (sink, port):
        raw = gateway_config(
            tmp_path,
            {"otlphttp": {"endpoint": f"http://127.0.0.1:{port}", "encoding": "json"}},
        )
        async with running(raw) as gateway, httpx.AsyncClient() as client:
            response = await client.post(
                ingest_url(gateway) + PATH, json=[event_json(), event_json(event="b")]
            )
            assert response.status_code == 200
            await sink.wait_for_records(2)
    assert sink.headers[0]["content-type"] == "application/json"
    assert [name for _, name in sink.session_event_names()] == ["purchase_completed", "b"]


async def test_health_readiness_and_metrics(tmp_path: Path) -> None:
    async with grpc_sink() as (sink, port):
        raw = gateway_config(tmp_path, {"otlp": {"endpoint": f"http://127.0.0.1:{port}"}})
        async with running(raw) as gateway, httpx.AsyncClient() as client:
            base = ingest_url(gateway)
            assert (await client.get(base + "/healthz")).json() == {"status": "ok"}
            ready = await client.get(base + "/readyz")
            assert ready.status_code == 200
            assert ready.json()["status"] == "ready"
            await client.post(base + PATH, json=[event_json(), {"event": 1}])
            await sink.wait_for_records(1)
            await client.post(base + PATH, content=b"{", headers={"content-type": "text/plain"})
            # The sink has the record before the exporter has its answer and counts the export.
            exported = 'sv_otel_exporter_sent_events_total{exporter="otlp"} 1.0'
            for _ in range(100):
                text = (await client.get(base + "/metrics")).text
                if exported in text and 'sv_otel_queue_size_bytes{pipeline="logs"} 0.0' in text:
                    break
                await asyncio.sleep(0.05)
    assert 'sv_otel_receiver_accepted_events_total{receiver="sessionvision"} 1.0' in text
    assert (
        'sv_otel_receiver_rejected_events_total{reason="invalid_event",receiver="sessionvision"}'
        " 1.0" in text
    )
    assert (
        'sv_otel_receiver_rejected_events_total{reason="bad_request",receiver="sessionvision"}'
        " 1.0" in text
    )
    assert 'sv_otel_exporter_sent_events_total{exporter="otlp"} 1.0' in text
    assert 'sv_otel_queue_size_bytes{pipeline="logs"} 0.0' in text


async def test_readyz_is_503_while_stopping(tmp_path: Path) -> None:
    raw = gateway_config(tmp_path, {"file": None})
    async with running(raw) as gateway:
        gateway.status = "stopping"
        async with httpx.AsyncClient() as client:
            response = await client.get(ingest_url(gateway) + "/readyz")
        gateway.status = "ready"
    assert response.status_code == 503
    assert response.json()["status"] == "stopping"


async def test_an_exporter_outage_delays_events_but_loses_none(tmp_path: Path) -> None:
    async with grpc_sink() as (_, port):
        pass  # find a port, then leave it closed: the backend is down
    raw = gateway_config(
        tmp_path,
        {
            "otlp": {
                "endpoint": f"http://127.0.0.1:{port}",
                "timeout": "1s",
                "retry_on_failure": {"initial_interval": "50ms", "max_interval": "200ms"},
            }
        },
    )
    async with running(raw) as gateway, httpx.AsyncClient() as client:
        for index in range(20):
            batch = [event_json(event=f"e{index}.{n}") for n in range(5)]
            response = await client.post(ingest_url(gateway) + PATH, json=batch)
            assert response.status_code == 200
        assert gateway.queue is not None
        assert gateway.queue.queued_events == {"logs": 100}
        while gateway.metrics.retries.labels("otlp")._value.get() < 3:
            await asyncio.sleep(0.05)
        async with grpc_sink(port) as (sink, _):  # the backend comes back
            await sink.wait_for_records(100)
    names = sorted(name for _, name in sink.session_event_names())
    assert names == sorted(f"e{i}.{n}" for i in range(20) for n in range(5))


async def test_shards_left_by_more_workers_are_drained_by_their_new_owner(tmp_path: Path) -> None:
    orphan = await DurableQueue.open(
        tmp_path / "queue" / "shard-3.db", max_bytes=1 << 20, consumers=[("logs", "file")]
    )
    await orphan.put({"logs": [Event(event="left", timestamp=1, session_id="s")]})
    await orphan.close()
    async with running(gateway_config(tmp_path, {"file": None})):
        export = tmp_path / "export" / "logs.jsonl"
        for _ in range(600):  # 30 s at most
            if export.exists() and b"left" in export.read_bytes():
                break
            await asyncio.sleep(0.05)
    assert b'"left"' in export.read_bytes()


async def test_telemetry_address_serves_health_and_metrics_on_their_own_port(
    tmp_path: Path,
) -> None:
    raw = gateway_config(
        tmp_path, {"file": None}, service={"telemetry": {"address": "127.0.0.1:0"}}
    )
    async with running(raw) as gateway, httpx.AsyncClient() as client:
        assert gateway.telemetry_port is not None
        telemetry = f"http://127.0.0.1:{gateway.telemetry_port}"
        assert (await client.get(telemetry + "/healthz")).json() == {"status": "ok"}
        assert "sv_otel_queue_size_bytes" in (await client.get(telemetry + "/metrics")).text
        assert (await client.get(ingest_url(gateway) + "/metrics")).status_code == 404


async def test_a_pipeline_of_sessionvision_exporters_queues_json_by_session(
    tmp_path: Path,
) -> None:
    server = IngestServer(hang_seconds=0.3)
    await server.start()
    try:
        server.plan(HANG)  # the first post waits, then fails: the records stay queued meanwhile
        raw = gateway_config(tmp_path, {"sessionvision": {"endpoint": server.url}})
        sent = [event_json(event=f"e{n}") for n in range(3)]
        async with running(raw) as gateway, httpx.AsyncClient() as client:
            response = await client.post(ingest_url(gateway) + PATH, json=sent)
            assert response.status_code == 200
            while not server.received:
                await asyncio.sleep(0.01)
            assert gateway.queue is not None
            queued = await gateway.queue.read_after("logs", 0, max_events=100)
            assert queued and all(is_session_json(record) for record in queued)
            while not server.accepted:
                await asyncio.sleep(0.02)
    finally:
        await server.stop()
    assert [event.event for event in server.events] == ["e0", "e1", "e2"]
