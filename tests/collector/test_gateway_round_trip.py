"""sv_otel gateway -> the Collector (gateway.yaml) -> sv_otel's OTLP receiver, all real processes.

A browser batch posted to ``sv-otel serve`` leaves it as OTLP (log records over gRPC from one
ingest endpoint, span events over HTTP from another), crosses the Collector configured by
``collector_config/gateway.yaml`` (receiver, memory_limiter, batch, persistent queue, one of its
backend exporters) and reaches a second ``sv-otel serve``, whose OTLP receiver writes the events
back as sessionvision JSON lines: they must equal what the browser sent, field for field.

The two ``sv-otel serve`` processes run once for the module; each test runs its own Collector on
the same addresses, with a different backend exporter.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from sv_otel.batch import parse_batch
from sv_otel.event import Event
from tests.collector._otelcol import loopback_env, run_collector
from tests.collector._serve import SvOtel, running
from tests.loop_thread import LoopThread

SIGNALS = ("logs", "traces")


def browser_batch(session: str) -> list[dict[str, Any]]:
    """What the sessionvision SDK posts for one page of a visit: every JSON type, nesting,
    non-ASCII text, an integer past 2**53, automatic and custom properties, a user identified
    mid-session, and a custom property named like a mapped attribute."""
    base = {"anonymousId": "550e8400-e29b-41d4-a716-446655440000", "sessionId": session}
    return [
        {
            **base,
            "event": "$pageview",
            "timestamp": 1709856000000,
            "userId": None,
            "properties": {
                "$current_url": "https://shop.example/p/1?q=ü&x=😀",
                "$browser": "Firefox",
                "$os": "Linux",
                "$device_type": "desktop",
                "$viewport_width": 1280,
                "price": 1.0,
                "count": 3,
                "big": -9007199254740993,
                "ratio": 0.1,
                "ok": True,
                "nothing": None,
                "empty": "",
                "tags": ["a", 1, 2.5, False, None, {"deep": [[]]}],
                "nested": {"a": {"b": {}}, "c": []},
                "session.id": "a custom property that looks like a mapped key",
            },
        },
        {
            **base,
            "event": "$autocapture",
            "timestamp": 1709856000050,
            "userId": None,
            "properties": {
                "$event_type": "click",
                "$elements": [{"tag_name": "button", "$el_text": "Add to cart", "nth_child": 2}],
            },
        },
        {
            **base,
            "event": "purchase_completed",
            "timestamp": 1709856000123,
            "userId": "user_456",
            "properties": {"amount": 49.99, "currency": "EUR", "items": [{"sku": "x", "qty": 2}]},
        },
    ]


def _session(test: int, signal: str) -> str:
    return f"5e55{test:04d}-{SIGNALS.index(signal):04d}-4000-8000-000000000000"


def _json(events: list[Event]) -> list[bytes]:
    return [msgspec.json.encode(event) for event in events]


@dataclass
class RoundTrip:
    """The module's processes: the sender gateway, the receiver, and the Collector's variables."""

    env: dict[str, str]
    sender: SvOtel
    receiver: SvOtel
    output: Path

    def received(self) -> list[Event]:
        """Every event the receiver has written so far (whole lines only)."""
        if not self.output.exists():
            return []
        data = self.output.read_bytes()
        return parse_batch(data[: data.rfind(b"\n") + 1]).events

    def post(self, signal: str, batch: list[dict[str, Any]]) -> None:
        port = self.sender.ports[f"sessionvision/{signal} http"]
        response = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ingest/events",
            content=gzip.compress(msgspec.json.encode(batch)),
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert response.json() == {"accepted": len(batch), "rejected": 0, "errors": []}


def _receiver_config(directory: Path) -> dict[str, Any]:
    """sv_otel's OTLP receiver on free ports, writing sessionvision JSON lines."""
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "127.0.0.1:0"},
                    "http": {"endpoint": "127.0.0.1:0"},
                }
            }
        },
        "exporters": {"sessionvision_file": None},
        "service": {
            "data_dir": str(directory / "data"),
            "pipelines": {
                signal: {"receivers": ["otlp"], "exporters": ["sessionvision_file"]}
                for signal in SIGNALS
            },
        },
    }


def _sender_config(directory: Path, collector: dict[str, str]) -> dict[str, Any]:
    """Two browser endpoints: one forwards log records over gRPC, the other spans over HTTP,
    both to the Collector (which is not always running: retry soon, not after 30 s)."""
    retry = {"initial_interval": "100ms", "max_interval": "500ms"}
    return {
        "receivers": {
            f"sessionvision/{signal}": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}}
            for signal in SIGNALS
        },
        "exporters": {
            "otlp": {
                "endpoint": "http://" + collector["SV_OTEL_COLLECTOR_GRPC_ENDPOINT"],
                "retry_on_failure": retry,
            },
            "otlphttp": {
                "endpoint": "http://" + collector["SV_OTEL_COLLECTOR_HTTP_ENDPOINT"],
                "retry_on_failure": retry,
            },
        },
        "service": {
            "data_dir": str(directory / "data"),
            "pipelines": {
                "logs": {"receivers": ["sessionvision/logs"], "exporters": ["otlp"]},
                "traces": {"receivers": ["sessionvision/traces"], "exporters": ["otlphttp"]},
            },
        },
    }


@pytest.fixture(scope="module")
def round_trip(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RoundTrip]:
    base = tmp_path_factory.mktemp("round-trip")
    env = loopback_env(base / "collector")
    receiver = SvOtel(loop, _receiver_config(base / "receiver"), base / "receiver")
    sender = SvOtel(loop, _sender_config(base / "sender", env), base / "sender")
    with running(receiver, sender):
        output = base / "receiver" / "data" / "export" / "sessionvision.jsonl"
        yield RoundTrip(env, sender, receiver, output)


@pytest.mark.parametrize(("test", "exporter"), [(1, "otlp_grpc/backend"), (2, "otlp_http/backend")])
def test_browser_events_survive_gateway_collector_and_receiver_exactly(
    otelcol: Path, round_trip: RoundTrip, test: int, exporter: str, tmp_path: Path
) -> None:
    receiver = round_trip.receiver.ports
    env = {
        **round_trip.env,
        "SV_OTEL_GATEWAY_EXPORTERS": f"[{exporter}]",
        "SV_OTEL_BACKEND_GRPC_ENDPOINT": f"127.0.0.1:{receiver['otlp grpc']}",
        "SV_OTEL_BACKEND_INSECURE": "true",
        "SV_OTEL_BACKEND_HTTP_ENDPOINT": f"http://127.0.0.1:{receiver['otlp http']}",
    }
    batches = {signal: browser_batch(_session(test, signal)) for signal in SIGNALS}
    expected = sum(len(batch) for batch in batches.values())
    sessions = {_session(test, signal) for signal in SIGNALS}

    def arrived() -> list[Event]:
        return [e for e in round_trip.received() if e.session_id in sessions]

    with run_collector(otelcol, "gateway.yaml", env, log_path=tmp_path / "collector.log") as gw:
        for signal, batch in batches.items():
            round_trip.post(signal, batch)
        round_trip.receiver.wait_for(lambda: len(arrived()) >= expected, f"{expected} events")
        log_records = gw.wait_for_metric("otelcol_exporter_sent_log_records", len(batches["logs"]))
        spans = gw.wait_for_metric("otelcol_exporter_sent_spans", 1)
        received_spans = gw.metric_sum("otelcol_receiver_accepted_spans")

    # Every record crossed the Collector, once: what it received it sent on.
    assert log_records == len(batches["logs"])
    assert spans == received_spans
    events = arrived()
    assert len(events) == expected
    for batch in batches.values():
        sent = parse_batch(msgspec.json.encode(batch)).events
        assert _json([e for e in events if e.session_id == sent[0].session_id]) == _json(sent)
