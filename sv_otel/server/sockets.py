"""Listening sockets and an embeddable uvicorn server.

Several worker processes share a port through ``SO_REUSEPORT``: each binds its own socket and
the kernel spreads new connections over them. :class:`HttpServer` runs uvicorn inside the
gateway's event loop without uvicorn's own signal handling (the gateway handles signals, so a
``SIGTERM`` drains the queue before the process exits), with the protocol of
:mod:`sv_otel.server.protocol` (deadlines for slow clients, direct routes), and with uvicorn's
warnings about clients' malformed requests limited (:mod:`sv_otel.server.log_limits`).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Mapping

import uvicorn
from starlette.types import ASGIApp

from sv_otel.server.direct import DirectRoute
from sv_otel.server.log_limits import limit_client_warnings
from sv_otel.server.protocol import http_protocol
from sv_otel.server.refusals import Refusal, json_refusal

__all__ = ["HttpServer", "bind_socket"]

logger = logging.getLogger(__name__)


def bind_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when ``host`` contains ``:``), no Nagle.

    The socket is created with an explicit ``IPPROTO_TCP``: asyncio only turns Nagle's algorithm
    off for sockets that say so (uvloop does it for every TCP socket), and with it on, a response
    written as headers then body waits for the client's delayed ACK (40 ms on Linux) on every
    keep-alive request.

    Raises:
        OSError: the address cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


class HttpServer:
    """uvicorn serving ``app`` on one socket, started and stopped by the caller.

    ``header_timeout`` bounds how long a connection may take to deliver a request's headers;
    ``routes`` are paths the protocol answers without ASGI (:class:`DirectRoute`); ``refusal``
    renders the body of the answers the protocol gives on its own (408, 431). With
    ``certfile`` and ``keyfile`` it serves HTTPS; with ``client_ca_file`` too, clients must
    present a certificate signed by that CA (mutual TLS).
    """

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        *,
        graceful_timeout: int = 10,
        header_timeout: float = 10.0,
        routes: Mapping[str, DirectRoute] | None = None,
        refusal: Refusal = json_refusal,
        certfile: str | None = None,
        keyfile: str | None = None,
        client_ca_file: str | None = None,
    ):
        self.socket = sock
        limit_client_warnings()  # a client sending garbage in a loop must not flood the log
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=graceful_timeout,
            timeout_keep_alive=30,
            http=http_protocol(header_timeout, routes, refusal),
            proxy_headers=False,
            server_header=False,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
            ssl_ca_certs=client_ca_file,
            ssl_cert_reqs=ssl.CERT_REQUIRED if client_ca_file else ssl.CERT_NONE,
        )
        config.load()
        self._server = uvicorn.Server(config)
        self._server.lifespan = config.lifespan_class(config)
        self._main: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        """The bound port."""
        return int(self.socket.getsockname()[1])

    async def start(self) -> None:
        """Start accepting connections."""
        await self._server.startup(sockets=[self.socket])
        self._main = asyncio.get_running_loop().create_task(self._server.main_loop())

    async def shutdown(self, graceful_timeout: int | None = None) -> None:
        """Stop accepting, let requests in flight finish (up to the graceful timeout, which
        ``graceful_timeout`` replaces when given)."""
        if graceful_timeout is not None:
            self._server.config.timeout_graceful_shutdown = graceful_timeout
        self._server.should_exit = True
        if self._main is not None:
            await self._main
        await self._server.shutdown(sockets=[self.socket])
