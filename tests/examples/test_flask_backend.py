"""The Flask example (code-based set-up with ``sv_otel.instrument``) run as a real process,
exporting over OTLP/HTTP to a real receiver and calling a real downstream service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.linking._apps import SESSION, Received, Telemetry, downstream_app, global_propagator
from tests.servers import otlp_receiver, read_listening_url, serve_asgi, wait_until

ROOT = Path(__file__).resolve().parents[2]
SPANS = {"GET /stock", "read stock", "reserve", "GET"}
LOGS = {"stock lookup", "reserved book"}


@pytest.fixture
def downstream() -> Iterator[tuple[str, Telemetry, Received]]:
    telemetry = Telemetry("warehouse")
    received = Received(baggage=[])
    with global_propagator(), serve_asgi(downstream_app(telemetry, received)) as url:
        yield url, telemetry, received
    telemetry.close()


def test_code_setup_stamps_every_span_and_log_and_forwards_the_session(
    downstream: tuple[str, Telemetry, Received],
) -> None:
    downstream_url, downstream_telemetry, received = downstream
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    with otlp_receiver() as receiver:
        env.update(
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
            OTEL_BSP_SCHEDULE_DELAY="100",
            OTEL_BLRP_SCHEDULE_DELAY="100",
            DOWNSTREAM_URL=f"{downstream_url}/stock",
        )
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "examples" / "flask_backend.py"), "--port", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            url = read_listening_url(process)
            response = httpx.get(
                f"{url}/stock", headers={"baggage": f"session.id={SESSION},tenant=acme"}
            )
            assert response.json() == {"session_id": SESSION, "count": 3}
            wait_until(
                lambda: receiver.span_names() >= SPANS and receiver.log_bodies() >= LOGS,
                "the example's spans and logs at the OTLP receiver",
            )
        finally:
            process.send_signal(signal.SIGINT)
            process.communicate(timeout=30)
        spans, logs = list(receiver.spans), list(receiver.logs)

    assert {span.name for span in spans} >= SPANS
    for span in spans:
        assert (span.service, span.attributes["session.id"]) == ("inventory", SESSION), span.name
    # The app's records; werkzeug's access log line is written after the request has ended.
    app_logs = [log for log in logs if log.body in LOGS]
    assert {log.body for log in app_logs} == LOGS
    for log in app_logs:
        assert (log.service, log.attributes["session.id"]) == ("inventory", SESSION), log.body
    ((baggage,),) = received.baggage
    assert sorted(baggage.split(",")) == [f"session.id={SESSION}", "tenant=acme"]
    downstream_telemetry.wait_for({"GET /stock"}, {"downstream handler"})
    for downstream_span in downstream_telemetry.spans():
        assert dict(downstream_span.attributes or {})["session.id"] == SESSION
