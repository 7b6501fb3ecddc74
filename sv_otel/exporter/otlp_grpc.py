"""OTLP/gRPC exporter: events as ``LogsService/Export`` or ``TraceService/Export`` calls.

The request is the protobuf bytes of :func:`sv_otel.encode_logs` / :func:`sv_otel.encode_spans`,
sent as is (no message objects are built). Failures become
:class:`~sv_otel.errors.RetryableExportError` or :class:`~sv_otel.errors.PermanentExportError`
by :func:`sv_otel.exporter.retry.grpc_error`; the delivery loop retries them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import grpc
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

from sv_otel._version import __version__
from sv_otel.errors import ConfigurationError, RetryableExportError
from sv_otel.event import Event
from sv_otel.exporter.answers import partial_success_warning
from sv_otel.exporter.encoding import encode_request
from sv_otel.exporter.otlp_settings import OTLPSettings, ResolvedOTLP, resolve_otlp
from sv_otel.exporter.retry import grpc_error

__all__ = ["OTLPGrpcExporter"]

logger = logging.getLogger(__name__)

_Response = ExportLogsServiceResponse | ExportTraceServiceResponse
USER_AGENT = f"sv-otel/{__version__} OTel-OTLP-Exporter-Python"
_METHODS: dict[str, tuple[str, Callable[[bytes], _Response]]] = {
    "logs": (
        "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
        ExportLogsServiceResponse.FromString,
    ),
    "traces": (
        "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        ExportTraceServiceResponse.FromString,
    ),
}


class OTLPGrpcExporter:
    """Exports one pipeline's events over OTLP/gRPC.

    Args:
        name: the component id (``otlp``, ``otlp/tempo``).
        signal: ``logs`` or ``traces``.
        settings: the YAML settings (environment variables fill the gaps).
    """

    def __init__(self, name: str, signal: str, settings: OTLPSettings) -> None:
        self.name = name
        self.signal = signal
        self.settings = settings
        self.resolved: ResolvedOTLP = resolve_otlp(settings, signal, http=False)
        self._channel = _channel(self.resolved)
        method, self._decode = _METHODS[signal]
        # The answer is read here, not by grpcio: grpcio turns an answer it cannot decode into
        # None, and a call the backend answered OK must not be sent again.
        self._call: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = self._channel.unary_unary(
            method, request_serializer=None, response_deserializer=None
        )
        self._metadata = tuple(self.resolved.headers.items())
        gzip = self.resolved.compression == "gzip"
        self._compression = grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression

    async def export(self, events: Sequence[Event]) -> None:
        """Send ``events`` in one call; raise a retryable or permanent export error."""
        await self.export_request(encode_request(events, self.signal), len(events))

    async def export_request(self, request: bytes, count: int) -> None:
        """Send a ready ``Export*ServiceRequest`` of ``count`` records in one call."""
        payload = request
        try:
            response = await self._call(
                payload,
                timeout=self.resolved.timeout,
                metadata=self._metadata,
                compression=self._compression,
            )
        except grpc.aio.AioRpcError as error:
            raise grpc_error(error.code(), error.details(), error.trailing_metadata()) from None
        except grpc.RpcError as error:  # pragma: no cover - aio raises AioRpcError
            raise RetryableExportError(f"gRPC: {error}") from None
        try:
            answer = self._decode(response)
        except DecodeError:
            logger.warning(
                "%s: the backend answered OK with a body that is not an Export*ServiceResponse; "
                "taken as delivered",
                self.name,
            )
            return
        warning = partial_success_warning(answer, count)
        if warning is not None:
            logger.warning("%s: %s", self.name, warning)

    async def shutdown(self) -> None:
        """Close the channel."""
        await self._channel.close()


def _channel(resolved: ResolvedOTLP) -> grpc.aio.Channel:
    endpoint = resolved.endpoint
    target = endpoint.split("://", 1)[1] if "://" in endpoint else endpoint
    target = target.rstrip("/")
    options = [
        ("grpc.primary_user_agent", USER_AGENT),
        ("grpc.max_send_message_length", 64 << 20),
        # grpcio's 16 KiB would turn a backend's large trailers (a long status message, its
        # details) into a local RESOURCE_EXHAUSTED: a call answered OK dead-lettered, a
        # retryable UNAVAILABLE made permanent. Answers stay bounded by the OTLP response limit
        # (4 MiB, grpcio's default for messages received).
        ("grpc.max_metadata_size", 1 << 20),
    ]
    if resolved.insecure:
        return grpc.aio.insecure_channel(target, options=options)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=_read(resolved.ca_file),
        private_key=_read(resolved.key_file),
        certificate_chain=_read(resolved.cert_file),
    )
    return grpc.aio.secure_channel(target, credentials, options=options)


def _read(path: str | None) -> bytes | None:
    if path is None:
        return None
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read ({error.strerror})") from None
