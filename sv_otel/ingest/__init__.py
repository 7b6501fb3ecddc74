"""The sessionvision ingest receiver: ``POST /api/v1/ingest/events`` and gRPC ``Ingest``."""

from sv_otel.ingest.app import INGEST_PATH, IngestApp, create_ingest_app
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.ingest.endpoint import IngestEndpoint
from sv_otel.ingest.grpc import IngestServicer
from sv_otel.ingest.receiver import IngestReceiver, create_ingest_receiver
from sv_otel.ingest.settings import IngestSettings, parse_ingest_settings

__all__ = [
    "INGEST_PATH",
    "CorsPolicy",
    "IngestApp",
    "IngestEndpoint",
    "IngestReceiver",
    "IngestServicer",
    "IngestSettings",
    "create_ingest_app",
    "create_ingest_receiver",
    "parse_ingest_settings",
]
