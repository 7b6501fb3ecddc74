"""Receiver -> sessionvision exporter -> test ingest server, wired as ``sv-otel serve`` will be."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sv_otel.receiver import OTLPReceiver
from sv_otel.sessionvision import IngestClient, SessionvisionExporter, SessionvisionExporterConfig
from tests.loop_thread import LoopThread
from tests.receiver.harness import ExportingSink, running_receiver
from tests.sessionvision.ingest_server import IngestServer, running_ingest_server


@dataclass
class Pipeline:
    receiver: OTLPReceiver
    ingest: IngestServer
    sink: ExportingSink

    @property
    def grpc_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.receiver.grpc_port}"

    @property
    def http_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.receiver.http_port}"


@contextlib.contextmanager
def running_pipeline(loop: LoopThread, sink: Any = None, **overrides: Any) -> Iterator[Pipeline]:
    """An OTLP receiver whose events go to a sessionvision exporter and a test ingest server."""
    with running_ingest_server(loop) as ingest:
        client = IngestClient(ingest.url, retry_delays=(0.01, 0.02, 0.04))
        exporter = SessionvisionExporter(
            SessionvisionExporterConfig(endpoint=ingest.url), client=client
        )
        exporting = ExportingSink(exporter)
        try:
            with running_receiver(loop, sink or exporting, **overrides) as receiver:
                yield Pipeline(receiver, ingest, exporting)
        finally:
            loop.run(exporter.shutdown())
