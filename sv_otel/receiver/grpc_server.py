"""OTLP/gRPC on ``grpc.aio``: ``LogsService``, ``TraceService`` and ``MetricsService`` ``Export``.

The servicers take the request as raw bytes (no deserializer): the translators read protobuf
bytes directly, so the message is never parsed twice. grpcio itself enforces
``max_request_bytes`` *after* decompression and answers ``RESOURCE_EXHAUSTED``. Failures
are answered as :mod:`sv_otel.receiver.status` maps them; a full queue gives ``UNAVAILABLE`` with
``RetryInfo`` in both the ``grpc-status-details-bin`` and ``google.rpc.retryinfo-bin`` trailers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import grpc

from sv_otel.errors import ConfigurationError
from sv_otel.receiver.auth import check_bearer
from sv_otel.receiver.handler import ExportHandler, Sinks
from sv_otel.receiver.metrics import count_request
from sv_otel.receiver.settings import ReceiverSettings, TLSSettings
from sv_otel.receiver.signals import SIGNALS, Signal
from sv_otel.receiver.status import Failure, failure_for, grpc_trailers, not_served

__all__ = ["MAX_RESPONSE_BYTES", "OTLPServicer", "create_grpc_server"]

MAX_RESPONSE_BYTES: Final = 4 * 1024 * 1024
"""The OTLP specification's recommended response size limit."""

ServicerContext = grpc.aio.ServicerContext[bytes, bytes]


class OTLPServicer:
    """The ``Export`` method of one OTLP service, on raw request bytes.

    Args:
        signal: the service's signal.
        handler: converts and submits (shared by all services and the HTTP app).
        bearer_token: the token every call's ``authorization`` metadata must carry, if any.
    """

    def __init__(self, signal: Signal, handler: ExportHandler, bearer_token: str | None) -> None:
        self.signal = signal
        self._handler = handler
        self._token = bearer_token

    async def Export(self, request: bytes, context: ServicerContext) -> bytes:
        """Handle one ``Export`` call; abort with the mapped status on failure."""
        failure: Failure | None = None
        body, partial = b"", False
        try:
            if self._token is not None:
                check_bearer(_metadata(context, "authorization"), self._token)
            if not self._handler.serves(self.signal):
                failure = not_served(self.signal)
            else:
                with self._handler.in_flight.hold() as hold:
                    hold.take(len(request))
                    body, partial = await self._handler.export(
                        self.signal, request, json=False, hold=hold
                    )
        except Exception as error:  # every failure becomes a gRPC status, never a crash
            failure = failure_for(error)
        if failure is not None:
            count_request("grpc", self.signal.name, failure.outcome)
            await context.abort(failure.grpc_code, failure.message, grpc_trailers(failure))
        count_request("grpc", self.signal.name, "partial" if partial else "ok")
        return body

    def rpc_handler(self) -> grpc.GenericRpcHandler:
        """The generic handler registering this servicer under its service name."""
        method: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
            self.Export
        )
        return grpc.method_handlers_generic_handler(self.signal.service, {"Export": method})


def create_grpc_server(
    sink: Sinks, settings: ReceiverSettings | None = None, *, reuse_port: bool = False
) -> tuple[grpc.aio.Server, int]:
    """Build the OTLP/gRPC server, bound to ``settings.grpc_address`` but not started.

    Call it inside the event loop that will run the server, then ``await server.start()`` and,
    to stop, ``await server.stop(grace)`` (in-flight calls finish within ``grace``).

    Args:
        sink: where converted events go (:class:`~sv_otel.EventSink`), or a sink per signal
            name (``{"logs": ..., "traces": ...}``); a signal without one is answered
            ``UNIMPLEMENTED``.
        settings: address, limits, token and TLS; default ``ReceiverSettings()``.
        reuse_port: let several processes listen on the same port (``SO_REUSEPORT``, for
            worker processes); off, a port already in use is an error.

    Returns:
        The server and the port it is bound to (useful with port 0).

    Raises:
        ConfigurationError: gRPC is disabled in ``settings``, a TLS file cannot be read, or the
            address cannot be bound.
    """
    settings = settings or ReceiverSettings()
    address = settings.grpc_address
    if address is None:
        raise ConfigurationError("ReceiverSettings.grpc_address: gRPC is disabled (None)")
    handler = ExportHandler(
        sink, max_in_flight_bytes=settings.max_in_flight_bytes, transport="grpc"
    )
    server = grpc.aio.server(
        options=(
            ("grpc.max_receive_message_length", settings.max_request_bytes),
            ("grpc.max_send_message_length", MAX_RESPONSE_BYTES),
            ("grpc.so_reuseport", int(reuse_port)),
        )
    )
    server.add_generic_rpc_handlers(
        tuple(
            OTLPServicer(signal, handler, settings.bearer_token).rpc_handler() for signal in SIGNALS
        )
    )
    try:
        if settings.tls is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, _credentials(settings.tls))
    except RuntimeError as error:
        raise ConfigurationError(f"grpc_address {address}: cannot listen ({error})") from None
    return server, port


def _credentials(tls: TLSSettings) -> grpc.ServerCredentials:
    client_ca = _read(tls.client_ca_file, "client_ca_file") if tls.client_ca_file else None
    return grpc.ssl_server_credentials(
        [(_read(tls.key_file, "key_file"), _read(tls.cert_file, "cert_file"))],
        root_certificates=client_ca,
        require_client_auth=client_ca is not None,
    )


def _read(path: str, name: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ConfigurationError(
            f"TLSSettings.{name}: cannot read {path}: {error.strerror}"
        ) from None


def _metadata(context: ServicerContext, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == key:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None
