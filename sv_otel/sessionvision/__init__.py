"""sessionvision as a destination: the ingest API client and the two exporters.

* :class:`IngestClient` posts events to ``{ingestHost}/api/v1/ingest/events`` as the SDK does;
* :class:`SessionvisionExporter` (type ``sessionvision``) wraps it as an
  :class:`~sv_otel.EventExporter`;
* :class:`SessionvisionFileExporter` (type ``sessionvision_file``) writes JSON lines.
"""

from sv_otel.sessionvision.batching import IngestRequest, build_requests
from sv_otel.sessionvision.client import INGEST_PATH, IngestClient
from sv_otel.sessionvision.exporter import SessionvisionExporter, SessionvisionExporterConfig
from sv_otel.sessionvision.file_exporter import SessionvisionFileExporter

__all__ = [
    "INGEST_PATH",
    "IngestClient",
    "IngestRequest",
    "SessionvisionExporter",
    "SessionvisionExporterConfig",
    "SessionvisionFileExporter",
    "build_requests",
]
