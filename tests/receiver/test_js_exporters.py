"""The OTel JS SDK's OTLP exporters from npm (HTTP/JSON and gRPC, logs and traces), run with
Node, send to the receiver; what reaches the sessionvision ingest server is checked event by event.

``.ci/run`` installs the packages (``npm ci`` in ``tests/receiver/js``); without them the tests
are skipped locally and fail under CI.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sv_otel.event import Event
from tests.loop_thread import LoopThread
from tests.receiver.pipeline import Pipeline, running_pipeline

JS = Path(__file__).parent / "js"
SESSION = "5f0c6d1e-2b3a-4c5d-8e9f-0a1b2c3d4e5f"


@pytest.fixture(scope="module")
def node() -> str:
    executable = shutil.which("node")
    installed = (JS / "node_modules" / "@opentelemetry" / "exporter-trace-otlp-grpc").is_dir()
    if executable is None or not installed:
        message = "Node and `npm ci` in tests/receiver/js are needed (.ci/run installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return executable


def _send(node: str, signal: str, protocol: str, pipeline: Pipeline) -> dict[str, str]:
    endpoint = pipeline.grpc_endpoint if protocol == "grpc" else pipeline.http_endpoint
    done = subprocess.run(
        [node, "send.mjs", signal, protocol, endpoint, SESSION],
        cwd=JS,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ids: dict[str, str] = json.loads(done.stdout.strip().splitlines()[-1])
    return ids


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_js_spans(loop: LoopThread, node: str, protocol: str) -> None:
    with running_pipeline(loop) as pipeline:
        ids = _send(node, "traces", protocol, pipeline)
    assert pipeline.ingest.events == [
        Event(
            event="$span",
            timestamp=1_709_856_000_123,
            properties={
                "trace_id": ids["traceId"],
                "span_id": ids["spanId"],
                "service.name": "web-frontend",
                "name": "POST /checkout",
                "kind": "client",
                "duration_ms": 2.5,
                "status": "unset",
                "attributes": {"http.request.method": "POST", "http.response.status_code": 201},
            },
            session_id=SESSION,
        )
    ]


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_js_logs(loop: LoopThread, node: str, protocol: str) -> None:
    with running_pipeline(loop) as pipeline:
        _send(node, "logs", protocol, pipeline)
    assert pipeline.ingest.events == [
        Event(
            event="$log",
            timestamp=1_709_856_000_123,
            properties={
                "service.name": "web-frontend",
                "body": "slow checkout",
                "severity": "WARN",
                "severity_number": 13,
                "attributes": {"http.route": "/checkout"},
            },
            user_id="user_456",
            session_id=SESSION,
        ),
        Event(
            event="checkout.viewed",
            timestamp=1_709_856_000_200,
            properties={"items": 3, "total": 49.5, "express": True},
            session_id=SESSION,
        ),
    ]
