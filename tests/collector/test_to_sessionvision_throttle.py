"""The Collector's exporters (to-sessionvision.yaml) into a real, throttling sv_otel receiver.

``sv-otel serve`` runs its OTLP receiver with a queue that holds one wave of records and cannot
export (its backend is down), so the next wave is refused the way sv_otel sheds load: gRPC
``UNAVAILABLE`` with a ``RetryInfo`` delay, HTTP 503 with ``Retry-After``. The Collector must keep
the refused records and retry them after sv_otel's delay; once the backend is up and sv_otel
drains its queue, every record arrives, once. The receiver runs once for the module; each test
runs its own Collector, with one exporter, and brings the backend up for its drain only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sv_otel.event import Event
from sv_otel.queue.durable import encode_events
from tests.collector._otelcol import RunningCollector, free_port, loopback_env, run_collector
from tests.collector._sdk import export_events
from tests.collector._serve import SvOtel, running
from tests.collector._sink import OTLPSink
from tests.loop_thread import LoopThread

WAVE = 12
"""Records a wave: one Export call into the Collector, one request into sv_otel."""
RETRY_LINE = "Exporting failed. Will retry the request after interval."
RETRY_AFTER = 2
"""sv_otel's retry hint while its queue is full, in seconds: longer than the Collector's first
backoff (1 s, randomised by half), so a first wait of exactly this long is the hint's."""
_INTERVAL = re.compile(r'"interval": "([0-9.]+)(ms|s)"')


def wave(session: str, first: int) -> list[Event]:
    """``WAVE`` backend-log-like events of ``session``, numbered from ``first``: all of a size."""
    return [
        Event(
            event="$log",
            timestamp=1709856000000 + n,
            properties={"body": f"request {n:04d} failed", "severity": "ERROR", "code": 503},
            anonymous_id="550e8400-e29b-41d4-a716-446655440000",
            session_id=session,
        )
        for n in range(first, first + WAVE)
    ]


WAVE_BYTES = len(encode_events(wave("5e550000-0000-4000-8000-000000000000", 0)))
"""What one wave takes in sv_otel's queue (its msgpack size)."""


@dataclass
class Throttling:
    """The receiver and the port of its backend, which is down unless a test brings it up."""

    receiver: SvOtel
    backend_port: int

    def count(self, name: str, **labels: str) -> float:
        return self.receiver.metric(name, **labels)


def _config(directory: Path, backend_port: int) -> dict[str, Any]:
    return {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "127.0.0.1:0"},
                    "http": {"endpoint": "127.0.0.1:0"},
                }
            }
        },
        # The receiver forwards to an OTLP backend that is down until a test starts it; it
        # retries every few hundred milliseconds so the queue drains soon after.
        "exporters": {
            "otlp": {
                "endpoint": f"http://127.0.0.1:{backend_port}",
                "retry_on_failure": {"initial_interval": "100ms", "max_interval": "300ms"},
            }
        },
        "service": {
            "data_dir": str(directory / "data"),
            "pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["otlp"]}},
            # Room for one wave, not two.
            "queue": {"max_size": WAVE_BYTES * 3 // 2, "retry_after": f"{RETRY_AFTER}s"},
            "shutdown_timeout": "1s",
        },
    }


@pytest.fixture(scope="module")
def throttling(loop: LoopThread, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Throttling]:
    directory = tmp_path_factory.mktemp("throttling")
    backend_port = free_port()
    receiver = SvOtel(loop, _config(directory, backend_port), directory)
    with running(receiver):
        # The OTLP/HTTP port is its only HTTP server, so it serves /metrics too.
        receiver.metrics_url = f"http://127.0.0.1:{receiver.ports['otlp http']}"
        yield Throttling(receiver, backend_port)


def _retries(collector: RunningCollector) -> list[str]:
    return [line for line in collector.log().splitlines() if RETRY_LINE in line]


def _interval(line: str) -> float:
    """The wait a retry line announces, in seconds."""
    match = _INTERVAL.search(line)
    assert match, line
    return float(match[1]) / (1000 if match[2] == "ms" else 1)


@pytest.mark.parametrize(
    ("exporter", "transport", "session"),
    [
        ("otlp_grpc/sv_otel", "grpc", "5e550001-0000-4000-8000-000000000000"),
        ("otlp_http/sv_otel", "http", "5e550002-0000-4000-8000-000000000000"),
    ],
)
def test_the_collector_retries_a_throttling_receiver_and_loses_nothing(
    otelcol: Path,
    throttling: Throttling,
    exporter: str,
    transport: str,
    session: str,
    tmp_path: Path,
) -> None:
    receiver = throttling.receiver
    first, second = wave(session, 0), wave(session, WAVE)
    ports = receiver.ports
    env = {
        **loopback_env(tmp_path),
        "SV_OTEL_RECEIVER_EXPORTERS": f"[{exporter}]",
        "SV_OTEL_RECEIVER_GRPC_ENDPOINT": f"127.0.0.1:{ports['otlp grpc']}",
        "SV_OTEL_RECEIVER_INSECURE": "true",
        "SV_OTEL_RECEIVER_HTTP_ENDPOINT": f"http://127.0.0.1:{ports['otlp http']}",
    }
    accepted = "sv_otel_receiver_accepted_events_total"
    requests = {"transport": transport, "signal": "logs"}
    before = {
        "accepted": throttling.count(accepted, receiver="otlp"),
        "ok": throttling.count("sv_otel_receiver_requests_total", **requests, outcome="ok"),
    }

    def throttled() -> float:
        return throttling.count("sv_otel_receiver_requests_total", **requests, outcome="throttled")

    with run_collector(otelcol, "to-sessionvision.yaml", env, log_path=tmp_path / "c.log") as c:
        # The first wave fills sv_otel's queue, which cannot drain: its backend is down.
        export_events(c.grpc_endpoint, first)
        receiver.wait_for(
            lambda: throttling.count(accepted, receiver="otlp") - before["accepted"] == WAVE,
            "the first wave in the queue",
        )
        # The second is acknowledged by the Collector, then refused by sv_otel, and retried.
        baseline = throttled()
        export_events(c.grpc_endpoint, second)
        receiver.wait_for(lambda: len(_retries(c)) >= 1, "a retry by the Collector")
        refusals = throttled() - baseline
        # The backend comes up: sv_otel drains, and the Collector's next retry gets in.
        with OTLPSink(port=throttling.backend_port) as backend:
            backend.wait_until(lambda s: len(s.events()) >= 2 * WAVE)
            delivered = backend.events()
        retries = _retries(c)

    # Every record arrived exactly once, as it was sent.
    assert sorted(msgspec.json.encode(e) for e in delivered) == sorted(
        msgspec.json.encode(e) for e in first + second
    )
    assert throttling.count(accepted, receiver="otlp") - before["accepted"] == 2 * WAVE
    assert refusals >= 1  # answered 503 / UNAVAILABLE, whole: nothing half accepted
    ok = throttling.count("sv_otel_receiver_requests_total", **requests, outcome="ok")
    assert ok - before["ok"] == 2
    # The Collector read sv_otel's delay (RetryInfo / Retry-After) and waited it rather than its
    # own backoff, and logged sv_otel's reason.
    refusal = "code = Unavailable desc = " + ("" if transport == "grpc" else "error exporting")
    for line in retries:
        assert f"Throttle ({RETRY_AFTER}s), error: rpc error: {refusal}" in line, line
        assert "queue: full (" in line, line
        assert _interval(line) >= RETRY_AFTER, line
    assert f'"interval": "{RETRY_AFTER}s"' in retries[0], retries
