"""Run both OTLP transports in the current event loop: :class:`OTLPReceiver`.

The one way tests and ``sv-otel serve`` start the receiver::

    async with OTLPReceiver(sink, ReceiverSettings(grpc_address="127.0.0.1:0")) as receiver:
        print(receiver.grpc_port, receiver.http_port)
        await stop_requested.wait()

HTTP is served by uvicorn on a socket bound here (so port 0 works and the port is known before
the first request); gRPC by ``grpc.aio``. Neither installs signal handlers or touches logging
configuration: that is the embedding program's business.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import socket
import ssl
from collections.abc import Iterator
from types import TracebackType

import grpc
import uvicorn

from sv_otel.errors import ConfigurationError
from sv_otel.receiver.grpc_server import create_grpc_server
from sv_otel.receiver.handler import Sinks
from sv_otel.receiver.http_app import create_http_app
from sv_otel.receiver.settings import ReceiverSettings, split_address

__all__ = ["OTLPReceiver"]


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handling: the embedding program decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


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
        self._http: _EmbeddedServer | None = None
        self._http_task: asyncio.Task[None] | None = None
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
        if self._http is not None and self._http_task is not None:
            self._http.config.timeout_graceful_shutdown = max(1, math.ceil(grace))
            self._http.should_exit = True
            waits.append(self._http_task)
        if self._grpc is not None:
            waits.append(asyncio.ensure_future(self._grpc.stop(grace)))
        self._http = self._http_task = self._grpc = None
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
        sock = _bind(host, port, reuse_port=self._reuse_port)
        tls = self.settings.tls
        config = uvicorn.Config(
            create_http_app(self._sink, self.settings),
            log_config=None,
            access_log=False,
            lifespan="off",
            ssl_certfile=tls.cert_file if tls else None,
            ssl_keyfile=tls.key_file if tls else None,
            ssl_ca_certs=tls.client_ca_file if tls else None,
            ssl_cert_reqs=ssl.CERT_REQUIRED if tls and tls.client_ca_file else ssl.CERT_NONE,
        )
        server = _EmbeddedServer(config)
        self._http = server
        task = asyncio.create_task(server.serve(sockets=[sock]))
        self._http_task = task
        while not server.started:
            if task.done():
                sock.close()
                error = task.exception()
                self._http = self._http_task = None
                raise ConfigurationError(f"http_address {address}: cannot serve ({error})")
            await asyncio.sleep(0.005)
        self.http_port = sock.getsockname()[1]


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket with ``TCP_NODELAY``.

    The socket is created with an explicit ``IPPROTO_TCP``: asyncio only turns Nagle's algorithm
    off for sockets that say so, and with it on, a response written as headers then body waits
    for the client's delayed ACK (40 ms on Linux) on every keep-alive request.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(socket.SOMAXCONN)
    except OSError as error:
        sock.close()
        reason = os.strerror(error.errno) if error.errno else str(error)
        raise ConfigurationError(f"http_address {host}:{port}: cannot listen ({reason})") from None
    sock.setblocking(False)
    return sock
