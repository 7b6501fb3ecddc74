"""sv_otel: browser sessions (sessionvision) into OpenTelemetry, and OpenTelemetry back.

Quick start::

    import sv_otel

    batch = sv_otel.parse_batch(body, content_encoding="gzip")
    request = sv_otel.events_to_logs(batch.events)  # an OTLP ExportLogsServiceRequest
    assert sv_otel.logs_to_events(request) == batch.events
"""

import importlib
from typing import TYPE_CHECKING

from sv_otel._version import __version__
from sv_otel.batch import ParsedBatch, Rejection, dump_events, parse_batch
from sv_otel.components import EventExporter, EventProcessor, EventSink
from sv_otel.errors import (
    AuthenticationError,
    ConfigurationError,
    ExportError,
    InvalidBatchError,
    InvalidOTLPError,
    InvalidSessionRequestError,
    InvalidSessionTokenError,
    OverloadedError,
    PayloadTooLargeError,
    PermanentExportError,
    PermissionDeniedError,
    QueueFullError,
    RequestTimeoutError,
    RetryableExportError,
    SessionNotFoundError,
    SvOtelError,
    UnsupportedEncodingError,
    UnsupportedMediaTypeError,
    ValueTooDeepError,
)
from sv_otel.event import Event
from sv_otel.limits import Limits
from sv_otel.linking import (
    LinkingSetup,
    SessionIdentity,
    SessionLogRecordProcessor,
    SessionPropagator,
    SessionSpanProcessor,
    bind_user,
    current_session,
    instrument,
)
from sv_otel.translate import (
    TranslationStats,
    encode_logs,
    encode_spans,
    events_to_logs,
    events_to_spans,
    logs_to_events,
    spans_to_events,
)

if TYPE_CHECKING:
    from sv_otel.sessionvision import IngestClient

__all__ = [
    "AuthenticationError",
    "ConfigurationError",
    "Event",
    "EventExporter",
    "EventProcessor",
    "EventSink",
    "ExportError",
    "IngestClient",
    "InvalidBatchError",
    "InvalidOTLPError",
    "InvalidSessionRequestError",
    "InvalidSessionTokenError",
    "Limits",
    "LinkingSetup",
    "OverloadedError",
    "ParsedBatch",
    "PayloadTooLargeError",
    "PermanentExportError",
    "PermissionDeniedError",
    "QueueFullError",
    "Rejection",
    "RequestTimeoutError",
    "RetryableExportError",
    "SessionIdentity",
    "SessionLogRecordProcessor",
    "SessionNotFoundError",
    "SessionPropagator",
    "SessionSpanProcessor",
    "SvOtelError",
    "TranslationStats",
    "UnsupportedEncodingError",
    "UnsupportedMediaTypeError",
    "ValueTooDeepError",
    "__version__",
    "bind_user",
    "current_session",
    "dump_events",
    "encode_logs",
    "encode_spans",
    "events_to_logs",
    "events_to_spans",
    "instrument",
    "logs_to_events",
    "parse_batch",
    "spans_to_events",
]


def __getattr__(name: str) -> object:
    # IngestClient is imported on first use: it brings httpx and prometheus_client, which a
    # backend that only links its traces to sessions should not load.
    if name == "IngestClient":
        return importlib.import_module("sv_otel.sessionvision").IngestClient
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
