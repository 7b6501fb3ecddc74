"""An OTLP/HTTP sink for the Collector tests: ``POST /v1/logs`` and ``/v1/traces`` on 127.0.0.1.

It accepts binary protobuf bodies, gzip-compressed or not (the Collector's ``otlp_http`` exporter
sends ``Content-Encoding: gzip`` when configured to), and can refuse its first requests the way a
throttling receiver does: ``503`` with ``Retry-After``.
"""

from __future__ import annotations

import gzip
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)


class OTLPHTTPSink:
    """Records the log records' and spans' names it accepts; a context manager.

    Args:
        refusals: how many requests to answer first with 503 and ``Retry-After: <retry_after>``.
        retry_after: the Retry-After value in seconds.
    """

    def __init__(self, *, refusals: int = 0, retry_after: int = 1) -> None:
        self.names: list[str] = []
        self.bodies: dict[str, list[bytes]] = {"/v1/logs": [], "/v1/traces": []}
        """The protobuf bodies accepted, decompressed and exactly as sent, by path."""
        self.calls = 0
        self.refused = 0
        self.encodings: set[str] = set()
        self._refusals_left = refusals
        self._retry_after = retry_after
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the base URL the ``otlp_http`` exporter appends to."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OTLPHTTPSink:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def _accept(self, path: str, body: bytes) -> bytes | None:
        """The response body for an accepted request, or None to refuse it."""
        with self._lock:
            self.calls += 1
            if self._refusals_left > 0:
                self._refusals_left -= 1
                self.refused += 1
                return None
            self.bodies[path].append(body)
            if path == "/v1/logs":
                logs = ExportLogsServiceRequest.FromString(body)
                self.names += [
                    record.event_name
                    for rl in logs.resource_logs
                    for sl in rl.scope_logs
                    for record in sl.log_records
                ]
                return ExportLogsServiceResponse().SerializeToString()
            traces = ExportTraceServiceRequest.FromString(body)
            self.names += [
                span.name
                for rs in traces.resource_spans
                for ss in rs.scope_spans
                for span in ss.spans
            ]
            return ExportTraceServiceResponse().SerializeToString()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                if self.path not in ("/v1/logs", "/v1/traces"):
                    self.send_error(404, f"no OTLP signal at {self.path}")
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                encoding = self.headers.get("Content-Encoding", "")
                sink.encodings.add(encoding)
                if encoding == "gzip":
                    body = gzip.decompress(body)
                answer = sink._accept(self.path, body)
                if answer is None:
                    self.send_response(503)
                    self.send_header("Retry-After", str(sink._retry_after))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: object) -> None:
                """Keep the test output quiet."""

        return Handler
