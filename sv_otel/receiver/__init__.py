"""The OTLP receiver: OpenTelemetry logs and traces in, sessionvision events out.

* :class:`OTLPReceiver` serves OTLP/gRPC and OTLP/HTTP together (the way ``sv-otel serve`` and the
  tests start them);
* :func:`create_grpc_server` and :func:`create_http_app` build each transport alone;
* :class:`ReceiverSettings` / :class:`TLSSettings` hold addresses, limits, auth, TLS and CORS.

``sv-otel serve`` runs it as its ``otlp`` receiver type: :mod:`sv_otel.receiver.config` reads the
Collector-style configuration block, :mod:`sv_otel.receiver.component` serves it in the gateway
(neither is imported here).

Each takes an :class:`~sv_otel.EventSink`: converted events are submitted to it, and its
:class:`~sv_otel.errors.QueueFullError` becomes HTTP 503 + ``Retry-After`` or gRPC
``UNAVAILABLE`` + ``RetryInfo``.
"""

from sv_otel.receiver.grpc_server import create_grpc_server
from sv_otel.receiver.http_app import create_http_app
from sv_otel.receiver.server import OTLPReceiver
from sv_otel.receiver.settings import (
    DEFAULT_GRPC_ADDRESS,
    DEFAULT_HTTP_ADDRESS,
    DEFAULT_MAX_REQUEST_BYTES,
    ReceiverSettings,
    TLSSettings,
)

__all__ = [
    "DEFAULT_GRPC_ADDRESS",
    "DEFAULT_HTTP_ADDRESS",
    "DEFAULT_MAX_REQUEST_BYTES",
    "OTLPReceiver",
    "ReceiverSettings",
    "TLSSettings",
    "create_grpc_server",
    "create_http_app",
]
