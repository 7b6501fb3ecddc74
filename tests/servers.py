"""Real servers on 127.0.0.1 for tests: ASGI apps under uvicorn, WSGI apps under werkzeug, an
OTLP/HTTP receiver, and a reader for a subprocess that prints where it listens."""

from __future__ import annotations

import gzip
import http.server
import queue
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from werkzeug.serving import make_server

DEADLINE_SECONDS = 20.0


def wait_until(condition: Callable[[], bool], what: str, timeout: float = DEADLINE_SECONDS) -> None:
    """Poll ``condition`` until it holds; fail the test naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


@contextmanager
def serve_asgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 (port 0) in a thread; yield its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        wait_until(lambda: server.started, "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def serve_wsgi(app: Any) -> Iterator[str]:
    """Serve ``app`` with werkzeug (threaded) on 127.0.0.1 (port 0); yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def attributes(items: Any) -> dict[str, Any]:
    """OTLP ``KeyValue`` list -> dict of plain values (strings, ints, bools, doubles)."""
    result: dict[str, Any] = {}
    for item in items:
        assert isinstance(item, KeyValue)
        value = item.value
        kind = value.WhichOneof("value")
        result[item.key] = getattr(value, kind) if kind else None
    return result


@dataclass
class ReceivedSpan:
    name: str
    trace_id: bytes
    attributes: dict[str, Any]
    links: list[tuple[bytes, dict[str, Any]]]
    service: str


@dataclass
class ReceivedLog:
    body: str
    attributes: dict[str, Any]
    service: str


@dataclass
class OTLPReceiver:
    """Collects what OTLP/HTTP (protobuf) exporters post to ``/v1/traces`` and ``/v1/logs``."""

    url: str = ""
    spans: list[ReceivedSpan] = field(default_factory=list)
    logs: list[ReceivedLog] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, path: str, body: bytes) -> None:
        with self.lock:
            if path == "/v1/traces":
                self._add_spans(ExportTraceServiceRequest.FromString(body))
            elif path == "/v1/logs":
                self._add_logs(ExportLogsServiceRequest.FromString(body))

    def _add_spans(self, request: ExportTraceServiceRequest) -> None:
        for resource_spans in request.resource_spans:
            service = attributes(resource_spans.resource.attributes).get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    links = [(link.trace_id, attributes(link.attributes)) for link in span.links]
                    self.spans.append(
                        ReceivedSpan(
                            span.name, span.trace_id, attributes(span.attributes), links, service
                        )
                    )

    def _add_logs(self, request: ExportLogsServiceRequest) -> None:
        for resource_logs in request.resource_logs:
            service = attributes(resource_logs.resource.attributes).get("service.name", "")
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    self.logs.append(
                        ReceivedLog(
                            record.body.string_value, attributes(record.attributes), service
                        )
                    )

    def span_names(self) -> set[str]:
        with self.lock:
            return {span.name for span in self.spans}

    def log_bodies(self) -> set[str]:
        with self.lock:
            return {log.body for log in self.logs}


@contextmanager
def otlp_receiver() -> Iterator[OTLPReceiver]:
    """A real OTLP/HTTP receiver on 127.0.0.1 (port 0)."""
    receiver = OTLPReceiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            receiver.add(self.path, body)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def read_listening_url(process: subprocess.Popen[str], timeout: float = DEADLINE_SECONDS) -> str:
    """Return the URL from the ``listening on URL`` line a server subprocess prints first."""
    lines: queue.Queue[str] = queue.Queue()
    stdout = process.stdout
    assert stdout is not None

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            if process.poll() is not None:
                break
            continue
        if line.startswith("listening on "):
            return line.removeprefix("listening on ").strip()
    stderr = process.stderr.read() if process.stderr and process.poll() is not None else ""
    raise AssertionError(f"the server did not start: {stderr[-2000:]}")
