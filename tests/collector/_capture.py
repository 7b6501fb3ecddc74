"""What the OpenTelemetry Collector forwards of sv_otel's records, byte for byte.

The Collector decodes every request and encodes it afresh: its fields come in its own order (the
value of an attribute before its key, the resource after its scopes), and every log record gets
an empty ``body`` and ``span_id``, every span an empty ``status``. sv_otel's readers must take
that as well as their own encoding. ``tests/testdata/otelcol/<case>.{logs,traces}.binpb`` hold
what otelcol-sv (``gateway.yaml``, its ``otlp_http`` exporter) forwards for the events of each
golden case (``tests/testdata/<case>/events.json``), so ``tests/translate`` can check the readers
without running a Collector; ``tests/collector/test_capture.py`` checks the files against the
Collector built now, and after an upgrade they are written again with::

    .venv/bin/python -m tests.collector._capture
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Final

import grpc

from sv_otel.batch import parse_batch
from sv_otel.event import Event
from sv_otel.translate import encode_logs, encode_spans
from tests.collector._http_sink import OTLPHTTPSink
from tests.collector._otelcol import BUILD_SCRIPT, REPO, loopback_env, run_collector

TESTDATA: Final = REPO / "tests" / "testdata"
GOLDEN: Final = TESTDATA / "otelcol"
OBSERVED: Final = 1709856100000000000
"""The ``observed_time_unix_nano`` of the captured log records (the golden cases' value)."""

_SERVICES: Final = {
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
}
_PATHS: Final = {"logs": "/v1/logs", "traces": "/v1/traces"}
_TIMEOUT = 30.0


def cases() -> list[str]:
    """The golden cases: the directories of ``tests/testdata`` with an ``events.json``."""
    return sorted(path.name for path in TESTDATA.iterdir() if (path / "events.json").exists())


def case_events(case: str) -> list[Event]:
    """The events of one golden case."""
    return parse_batch((TESTDATA / case / "events.json").read_bytes()).events


def sv_otel_requests(events: list[Event]) -> dict[str, bytes]:
    """sv_otel's own encoding of ``events``: ``{"logs": ..., "traces": ...}``."""
    return {
        "logs": encode_logs(events, observed_time_unix_nano=OBSERVED),
        "traces": encode_spans(events),
    }


def _raw(data: bytes) -> bytes:
    return data


def capture(
    binary: Path, workdir: Path, cases: dict[str, list[Event]]
) -> dict[str, dict[str, bytes]]:
    """Send each case's events (as logs and as spans) through one Collector, a case at a time;
    what it forwards, by case and signal.

    Raises:
        AssertionError: the Collector forwarded nothing, or more than one request a signal.
    """
    forwarded: dict[str, dict[str, bytes]] = {}
    with OTLPHTTPSink() as backend:
        env = {
            **loopback_env(workdir),
            "SV_OTEL_BACKEND_HTTP_ENDPOINT": backend.url,
            "SV_OTEL_GATEWAY_EXPORTERS": "[otlp_http/backend]",
        }
        with (
            run_collector(binary, "gateway.yaml", env, log_path=workdir / "collector.log") as gw,
            grpc.insecure_channel(gw.grpc_endpoint) as channel,
        ):
            for n, (case, events) in enumerate(cases.items()):
                for signal, body in sv_otel_requests(events).items():
                    channel.unary_unary(_SERVICES[signal], _raw, _raw)(body, timeout=_TIMEOUT)
                # Wait for this case's requests, so that no batch holds two cases.
                deadline = time.monotonic() + _TIMEOUT
                while not all(len(backend.bodies[path]) > n for path in _PATHS.values()):
                    assert time.monotonic() < deadline, f"the Collector forwarded nothing of {case}"
                    time.sleep(0.02)
                forwarded[case] = {
                    signal: backend.bodies[path][n] for signal, path in _PATHS.items()
                }
    assert all(len(bodies) == len(cases) for bodies in backend.bodies.values()), backend.bodies
    return forwarded


def golden_path(case: str, signal: str) -> Path:
    """Where the Collector's encoding of one case's signal is kept."""
    return GOLDEN / f"{case}.{signal}.binpb"


def main() -> int:
    """Build (or find) the Collector and write every case's files."""
    built = subprocess.run(["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, check=True)
    binary = Path(built.stdout.strip().splitlines()[-1])
    GOLDEN.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as workdir:
        everything = {case: case_events(case) for case in cases()}
        for case, bodies in capture(binary, Path(workdir), everything).items():
            for signal, body in bodies.items():
                golden_path(case, signal).write_bytes(body)
                print(f"wrote {golden_path(case, signal).relative_to(REPO)} ({len(body)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
