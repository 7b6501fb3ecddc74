"""Run both OTLP transports in the current event loop: :class:`OTLPReceiver`.

The one way tests and ``sv-otel serve`` start the receiver::

    async with OTLPReceiver(sink, ReceiverSettings(grpc_address="127.0.0.1:0")) as receiver:
        print(receiver.grpc_port, receiver.http_port)
        await stop_requested.wait()

HTTP is served by uvicorn on a socket bound here (so port 0 works and the port is known before
the first request), through the gateway's :class:`~sv_otel.server.sockets.HttpServer`: request
headers slower than ``read_header_timeout`` get 408 and headers over 64 KiB get 431, each with
a JSON ``google.rpc.Status``. gRPC is served by ``grpc.aio``. Neither installs signal
handlers or touches logging configuration: that is the embedding program's business.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
from types import TracebackType

import grpc
from starlette.types import ASGIApp

from sv_otel.errors import ConfigurationError
from sv_otel.receiver.grpc_server import create_grpc_server
from sv_otel.receiver.handler import Sinks
from sv_otel.receiver.http_app import create_http_app
from sv_otel.receiver.settings import ReceiverSettings, split_address
from sv_otel.receiver.status import protocol_refusal
from sv_otel.server.sockets import HttpServer, bind_socket

__all__ = ["OTLPReceiver", "otlp_http_server"]


class OTLPReceiver:
    """OTLP/gRPC and OTLP/HTTP in one object, started and stopped together.

    Args:
        sink: where converted events go (:class:`~sv_otel.EventSink`), or a sink per signal
            name (``{"logs": ..., "traces": ...}``); signals without one are refused.
        settings: addresses, limits, auth, TLS, CORS; default ``ReceiverSettings()``.
        reuse_port: bind with ``SO_REUSEPORT`` so several worker processes share the ports.
    """

    def __init__(
        self,
        sink: Sinks,
        settings: ReceiverSettings | None = None,
        *,
        reuse_port: bool = False,
    ) -> None:
        self.settings = settings or ReceiverSettings()
        self._sink = sink
        self._reuse_port = reuse_port
        self._grpc: grpc.aio.Server | None = None
        self._http: HttpServer | None = None
        self.grpc_port: int | None = None
        """The bound gRPC port once started (None when gRPC is disabled)."""
        self.http_port: int | None = None
        """The bound HTTP port once started (None when HTTP is disabled)."""

    async def start(self) -> None:
        """Bind and start both transports; return once they accept connections.

        Raises:
            ConfigurationError: an address cannot be bound or a TLS file cannot be used.
        """
        try:
            if self.settings.grpc_address is not None:
                self._grpc, self.grpc_port = create_grpc_server(
                    self._sink, self.settings, reuse_port=self._reuse_port
                )
                await self._grpc.start()
            if self.settings.http_address is not None:
                await self._start_http(self.settings.http_address)
        except BaseException:
            await self.stop(0)
            raise

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish for up to ``grace`` seconds, close."""
        waits = []
        if self._http is not None:
            waits.append(asyncio.ensure_future(self._http.shutdown(max(1, math.ceil(grace)))))
        if self._grpc is not None:
            waits.append(asyncio.ensure_future(self._grpc.stop(grace)))
        self._http = self._grpc = None
        await asyncio.gather(*waits)

    async def __aenter__(self) -> OTLPReceiver:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _start_http(self, address: str) -> None:
        host, port = split_address(address, "ReceiverSettings.http_address")
        try:
            sock = bind_socket(host, port, reuse_port=self._reuse_port)
        except OSError as error:
            reason = os.strerror(error.errno) if error.errno else str(error)
            raise ConfigurationError(f"http_address {address}: cannot listen ({reason})") from None
        try:
            server = otlp_http_server(
                create_http_app(self._sink, self.settings), sock, self.settings
            )
            await server.start()
        except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
            sock.close()
            raise ConfigurationError(f"http_address {address}: cannot serve ({error})") from None
        self._http = server
        self.http_port = server.port


def otlp_http_server(app: ASGIApp, sock: socket.socket, settings: ReceiverSettings) -> HttpServer:
    """The HTTP server of an OTLP receiver: ``app`` on ``sock`` with the header deadline and TLS
    of ``settings``, answering refused headers with a ``google.rpc.Status``.

    Raises:
        OSError: a TLS file cannot be read or used (``ssl.SSLError`` is an ``OSError``).
    """
    tls = settings.tls
    return HttpServer(
        app,
        sock,
        header_timeout=settings.read_header_timeout,
        refusal=protocol_refusal,
        certfile=tls.cert_file if tls else None,
        keyfile=tls.key_file if tls else None,
        client_ca_file=tls.client_ca_file if tls else None,
    )
