"""collector_config/to-sessionvision.yaml, live: backend telemetry reaches sv_otel's receiver.

Whatever the receiver (throttling) or the Collector (killed) goes through meanwhile.
"""

from __future__ import annotations

import time
from pathlib import Path

from tests.collector._http_sink import OTLPHTTPSink
from tests.collector._otelcol import RunningCollector, free_port, loopback_env, run_collector
from tests.collector._sdk import emit_logs, emit_spans
from tests.collector._sink import OTLPSink

RETRY_LINE = "Exporting failed. Will retry the request after interval."


def _wait_for_log(collector: RunningCollector, text: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in collector.log():
        assert time.monotonic() < deadline, (
            f"no {text!r} in the Collector's log:\n{collector.log()}"
        )
        time.sleep(0.05)


def _receiver_env(tmp_path: Path, endpoint: str) -> dict[str, str]:
    return {
        **loopback_env(tmp_path),
        "SV_OTEL_RECEIVER_GRPC_ENDPOINT": endpoint,
        "SV_OTEL_RECEIVER_INSECURE": "true",
    }


def test_otlp_exporter_waits_out_a_throttling_receiver(otelcol: Path, tmp_path: Path) -> None:
    logs = [(f"$log {n}", {"session.id": f"s-{n % 3}"}) for n in range(40)]
    spans = [(f"SELECT {n}", {"session.id": "s-0"}) for n in range(5)]

    # The receiver sheds load for its first three calls: UNAVAILABLE with a RetryInfo delay.
    with OTLPSink(refusals=3, retry_delay=0.3) as receiver:
        env = _receiver_env(tmp_path, receiver.endpoint)
        with run_collector(otelcol, "to-sessionvision.yaml", env, log_path=tmp_path / "c.log") as c:
            emit_logs(c.grpc_endpoint, logs)
            emit_spans(c.grpc_endpoint, spans)
            receiver.wait_until(lambda s: len(s.records()) >= len(logs) + len(spans))
            retried = c.log().count(RETRY_LINE)

        names = sorted(record.name for record in receiver.records())

    assert receiver.refused == 3
    assert retried == 3
    # Everything arrived, and exactly once: a refused request is not half-accepted.
    assert names == sorted(name for name, _ in logs + spans)


def test_persistent_queue_survives_a_killed_collector(otelcol: Path, tmp_path: Path) -> None:
    logs = [(f"$exception {n}", {"session.id": "s-9"}) for n in range(30)]
    port = free_port()  # sv_otel's receiver is down: nothing listens here yet
    env = _receiver_env(tmp_path, f"127.0.0.1:{port}")
    log_path = tmp_path / "c.log"

    with run_collector(otelcol, "to-sessionvision.yaml", env, log_path=log_path) as first:
        emit_logs(first.grpc_endpoint, logs)  # acknowledged by the Collector
        _wait_for_log(first, RETRY_LINE)  # the batch left the batch processor and is queued
        first.kill()  # SIGKILL: no graceful shutdown, no flush

        with OTLPSink(port=port) as receiver:
            with run_collector(otelcol, "to-sessionvision.yaml", env, log_path=log_path):
                receiver.wait_until(lambda s: len(s.records()) >= len(logs))
            names = sorted(record.name for record in receiver.records())

    assert first.process.returncode == -9
    assert names == sorted(name for name, _ in logs)


def test_otlp_http_exporter_honours_retry_after(otelcol: Path, tmp_path: Path) -> None:
    logs = [(f"$log {n}", {"session.id": "s-1"}) for n in range(25)]

    # The receiver answers its first request 503 with Retry-After: 1.
    with OTLPHTTPSink(refusals=1, retry_after=1) as receiver:
        env = {
            **loopback_env(tmp_path),
            "SV_OTEL_RECEIVER_HTTP_ENDPOINT": receiver.url,
            "SV_OTEL_RECEIVER_EXPORTERS": "[otlp_http/sv_otel]",
        }
        with run_collector(otelcol, "to-sessionvision.yaml", env, log_path=tmp_path / "c.log") as c:
            emit_logs(c.grpc_endpoint, logs)
            deadline = time.monotonic() + 30
            while len(receiver.names) < len(logs) and time.monotonic() < deadline:
                time.sleep(0.05)
            retried = c.log().count(RETRY_LINE)

    assert receiver.refused == 1
    assert retried == 1
    assert receiver.encodings == {"gzip"}
    assert sorted(receiver.names) == sorted(name for name, _ in logs)
