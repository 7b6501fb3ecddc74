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
from tests.linking._apps import (
    SECRET,
    SESSION,
    Received,
    Telemetry,
    downstream_app,
    global_propagator,
    sign,
)
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


def start_example(
    receiver: OTLPReceiver, downstream_url: str | None, **variables: str
) -> subprocess.Popen[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OTEL_", "SV_OTEL_", "DOWNSTREAM_URL"))
    }
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
    )
    if downstream_url is not None:
        env["DOWNSTREAM_URL"] = f"{downstream_url}/stock"
    env.update(variables)
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
    process = start_example(
        receiver,
        downstream_url,
        SV_OTEL_LINKING_SESSION_LINK="true",
        SV_OTEL_LINKING_VENDOR_ALIASES="posthog",
    )
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


def test_zero_code_signed_sessions_stamp_only_verified_tokens(receiver: OTLPReceiver) -> None:
    process = start_example(
        receiver,
        None,
        SV_OTEL_SESSION_SECRET=SECRET.decode(),
        SV_OTEL_LINKING_REQUIRE_SIGNED="true",
    )
    signed_trace, plain_trace = "ab" * 16, "cd" * 16
    try:
        url = read_listening_url(process)
        answers = [
            httpx.get(
                f"{url}/checkout",
                headers={
                    "traceparent": f"00-{trace_id}-{'12' * 8}-01",
                    "X-Sessionvision-Session-Id": "plain-header",
                    **({"X-Sessionvision-Session-Token": sign(SESSION)} if token else {}),
                },
                timeout=30,
            ).json()
            for trace_id, token in ((signed_trace, True), (plain_trace, False))
        ]
        assert answers == [{"session_id": SESSION, "items": 2}, {"session_id": None, "items": 2}]
        wait_until(
            lambda: (
                sorted(span.name for span in receiver.spans).count("send receipt") == 2
                and len(receiver.logs) >= 2 * len(LOGS)
            ),
            "both requests' spans and logs at the OTLP receiver",
        )
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=30)

    traces: dict[str, list[object]] = {signed_trace: [], plain_trace: []}
    for span in receiver.spans:
        traces[span.trace_id.hex()].append(span.attributes.get("session.id"))
    assert set(traces[signed_trace]) == {SESSION}
    assert set(traces[plain_trace]) == {None}
    assert len(traces[signed_trace]) == len(traces[plain_trace]) >= len(SPANS) - 1
    stamped_logs = sorted(str(log.attributes.get("session.id")) for log in receiver.logs)
    assert stamped_logs == sorted([SESSION] * len(LOGS) + ["None"] * len(LOGS))
