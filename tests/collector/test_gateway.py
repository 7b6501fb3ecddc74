"""collector_config/gateway.yaml, live: browser and sv_otel telemetry through to a backend."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

from tests.collector._otelcol import loopback_env, run_collector
from tests.collector._sdk import emit_logs, emit_spans
from tests.collector._sink import OTLPSink

ORIGIN = "https://shop.example"


def _preflight(url: str, origin: str) -> dict[str, str]:
    request = urllib.request.Request(
        url,
        method="OPTIONS",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,traceparent",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return {key.lower(): value for key, value in response.headers.items()}


def _emit_metric(grpc_endpoint: str) -> None:
    exporter = OTLPMetricExporter(endpoint=f"http://{grpc_endpoint}", insecure=True, timeout=10)
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(metric_readers=[reader])
    provider.get_meter("web").create_counter("page.views").add(3)
    try:
        assert provider.force_flush(30_000)
    finally:
        provider.shutdown()


def test_logs_traces_and_metrics_reach_the_backend(otelcol: Path, tmp_path: Path) -> None:
    logs = [(f"event-{n}", {"session.id": "a1b2", "user.id": "u-7"}) for n in range(20)]
    spans = [("session activity", {"session.id": "a1b2"})]

    with OTLPSink() as backend:
        env = {
            **loopback_env(tmp_path),
            "SV_OTEL_BACKEND_GRPC_ENDPOINT": backend.endpoint,
            "SV_OTEL_BACKEND_INSECURE": "true",
        }
        with run_collector(otelcol, "gateway.yaml", env, log_path=tmp_path / "gw.log") as gateway:
            emit_logs(gateway.grpc_endpoint, logs)
            emit_spans(gateway.grpc_endpoint, spans)
            _emit_metric(gateway.grpc_endpoint)
            backend.wait_until(lambda s: len(s.records()) == 21 and bool(s.metric_names()))
            # The Collector's own metrics, served on the port the environment chose.
            sent = gateway.wait_for_metric("otelcol_exporter_sent_log_records", len(logs))
            accepted = gateway.metric_sum("otelcol_receiver_accepted_log_records")

        records = backend.records()

    assert sorted(r.name for r in records if r.signal == "logs") == sorted(n for n, _ in logs)
    assert [r.name for r in records if r.signal == "traces"] == ["session activity"]
    assert all(r.attributes["session.id"] == "a1b2" for r in records)
    assert all(r.resource["service.name"] in {"web", "checkout"} for r in records)
    # The SDK exports its cumulative counter on flush and again on shutdown.
    assert set(backend.metric_names()) == {"page.views"}
    assert accepted == sent == len(logs)


def test_exporters_are_chosen_by_environment(otelcol: Path, tmp_path: Path) -> None:
    with OTLPSink() as backend:
        env = {
            **loopback_env(tmp_path),
            "SV_OTEL_BACKEND_GRPC_ENDPOINT": backend.endpoint,
            "SV_OTEL_BACKEND_INSECURE": "true",
            "SV_OTEL_GATEWAY_EXPORTERS": "[otlp_grpc/backend, debug]",
        }
        with run_collector(otelcol, "gateway.yaml", env, log_path=tmp_path / "gw.log") as gateway:
            emit_logs(gateway.grpc_endpoint, [("checkout", {"session.id": "s-1"})])
            backend.wait_until(lambda s: len(s.records()) == 1)
            log = gateway.log()

    assert [record.name for record in backend.records()] == ["checkout"]
    # The debug exporter's summary line for the same batch.
    assert re.search(r"\tinfo\tLogs\t.*\"log records\": 1", log), log[-3000:]


def test_cors_allows_only_configured_browser_origins(otelcol: Path, tmp_path: Path) -> None:
    env = {**loopback_env(tmp_path), "SV_OTEL_COLLECTOR_CORS_ORIGINS": f"[{ORIGIN}]"}

    with run_collector(otelcol, "gateway.yaml", env, log_path=tmp_path / "gw.log") as gateway:
        allowed = _preflight(gateway.http_url + "/v1/logs", ORIGIN)
        other = _preflight(gateway.http_url + "/v1/logs", "https://evil.example")

    assert allowed["access-control-allow-origin"] == ORIGIN
    assert "traceparent" in allowed["access-control-allow-headers"].lower()
    assert allowed["access-control-max-age"] == "7200"
    assert "access-control-allow-origin" not in other
