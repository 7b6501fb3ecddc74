"""The FastAPI example under ``opentelemetry-instrument``, configured by environment variables
only, exporting over OTLP/HTTP to a real receiver, and calling a real downstream service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sv_otel.ids import session_trace_id
from tests.linking._apps import SESSION, Received, Telemetry, downstream_app, global_propagator
from tests.servers import (
    OTLPReceiver,
    otlp_receiver,
    read_listening_url,
    serve_asgi,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
INSTRUMENT = str(Path(sys.executable).with_name("opentelemetry-instrument"))
SPANS = {"GET /checkout", "load cart", "SELECT cart", "price items", "send receipt", "GET"}
LOGS = {"checkout started", "cart has 2 items", "prices computed", "receipt sent"}


@pytest.fixture
def downstream() -> Iterator[tuple[str, Telemetry, Received]]:
    telemetry = Telemetry("inventory")
    received = Received(baggage=[])
    with global_propagator(), serve_asgi(downstream_app(telemetry, received)) as url:
        yield url, telemetry, received
    telemetry.close()


@pytest.fixture
def receiver() -> Iterator[OTLPReceiver]:
    with otlp_receiver() as receiver:
        yield receiver


def start_example(receiver: OTLPReceiver, downstream_url: str) -> subprocess.Popen[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    env.update(
        OTEL_PYTHON_CONFIGURATOR="sessionvision",
        OTEL_PROPAGATORS="tracecontext,baggage,sessionvision",
        OTEL_SERVICE_NAME="checkout",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_LOGS_EXPORTER="otlp",
        OTEL_METRICS_EXPORTER="none",
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url,
        OTEL_BSP_SCHEDULE_DELAY="100",
        OTEL_BLRP_SCHEDULE_DELAY="100",
        SV_OTEL_LINKING_SESSION_LINK="true",
        SV_OTEL_LINKING_VENDOR_ALIASES="posthog",
        DOWNSTREAM_URL=f"{downstream_url}/stock",
    )
    return subprocess.Popen(
        [INSTRUMENT, sys.executable, str(ROOT / "examples" / "fastapi_backend.py"), "--port", "0"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_zero_code_stamps_every_span_and_log_and_forwards_the_session(
    receiver: OTLPReceiver, downstream: tuple[str, Telemetry, Received]
) -> None:
    downstream_url, downstream_telemetry, received = downstream
    process = start_example(receiver, downstream_url)
    try:
        url = read_listening_url(process)
        response = httpx.get(
            f"{url}/checkout",
            headers={
                "X-Sessionvision-Session-Id": SESSION,
                "X-Sessionvision-Anonymous-Id": "anon-1",
                "Authorization": "Bearer user_456",
            },
            timeout=30,
        )
        assert response.json() == {"session_id": SESSION, "items": 2}
        wait_until(
            lambda: receiver.span_names() >= SPANS and receiver.log_bodies() >= LOGS,
            "the example's spans and logs at the OTLP receiver",
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)

    checkout = [span for span in receiver.spans if span.service == "checkout"]
    assert {span.name for span in checkout} >= SPANS
    for span in checkout:
        assert span.attributes["session.id"] == SESSION, span.name
        assert span.attributes["sessionId"] == SESSION, span.name
        assert span.attributes["enduser.pseudo.id"] == "anon-1", span.name
    (server,) = [span for span in checkout if span.name == "GET /checkout"]
    assert server.attributes["user.id"] == "user_456"
    assert server.links == [(session_trace_id(SESSION), {"session.id": SESSION})]
    (receipt,) = [span for span in checkout if span.name == "send receipt"]
    assert receipt.attributes["user.id"] == "user_456"
    for log in receiver.logs:
        assert log.attributes["session.id"] == SESSION, log.body
    ((baggage,),) = received.baggage
    assert baggage == f"session.id={SESSION}"
    downstream_telemetry.wait_for({"GET /stock"}, {"downstream handler"})
    for downstream_span in downstream_telemetry.spans():
        assert dict(downstream_span.attributes or {})["session.id"] == SESSION
