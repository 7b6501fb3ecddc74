"""Listening sockets and an embeddable uvicorn server.

Several worker processes share a port through ``SO_REUSEPORT``: each binds its own socket and
the kernel spreads new connections over them. :class:`HttpServer` runs uvicorn inside the
gateway's event loop without uvicorn's own signal handling (the gateway handles signals, so a
``SIGTERM`` drains the queue before the process exits).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from typing import cast

import uvicorn
from starlette.types import ASGIApp
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HttpServer", "bind_socket"]

logger = logging.getLogger(__name__)


def bind_socket(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    """A listening TCP socket on ``host:port`` (IPv6 when ``host`` contains ``:``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


_HEADER_TIMEOUT_ANSWER = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
)


def _guarded_protocol(header_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's protocol, closing connections whose request headers are too slow.

    uvicorn bounds only the idle time after a response; a client that connects and sends
    nothing, or trickles its headers (slow-loris), would hold the connection for ever. Once
    ``header_timeout`` seconds pass without complete headers (counted from the connection or
    from the previous response) the connection is closed, with a 408 answer if a request had
    begun (an idle keep-alive connection is closed silently, as browsers expect).
    """
    body = (
        b'{"status":408,"error":"request_timeout","message":"headers: not received within '
        + f"{header_timeout:g}".encode()
        + b' seconds"}'
    )
    answer = _HEADER_TIMEOUT_ANSWER % (len(body), body)

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _begun = False

        def data_received(self, data: bytes) -> None:
            self._begun = True
            super().data_received(data)

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(cast(asyncio.Transport, transport))
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._begun = False
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            self._disarm()
            self._header_timer = self.loop.call_later(header_timeout, self._expire)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _expire(self) -> None:
            self._header_timer = None
            if not self.transport.is_closing():
                if self._begun:
                    self.transport.write(answer)
                self.transport.close()

    return GuardedHttpToolsProtocol


class HttpServer:
    """uvicorn serving ``app`` on one socket, started and stopped by the caller.

    ``header_timeout`` bounds how long a connection may take to deliver a request's headers.
    With ``certfile`` and ``keyfile`` it serves HTTPS; with ``client_ca_file`` too, clients must
    present a certificate signed by that CA (mutual TLS).
    """

    def __init__(
        self,
        app: ASGIApp,
        sock: socket.socket,
        *,
        graceful_timeout: int = 10,
        header_timeout: float = 10.0,
        certfile: str | None = None,
        keyfile: str | None = None,
        client_ca_file: str | None = None,
    ):
        self.socket = sock
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=graceful_timeout,
            timeout_keep_alive=30,
            http=_guarded_protocol(header_timeout),
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

    async def shutdown(self) -> None:
        """Stop accepting, let requests in flight finish (up to the graceful timeout)."""
        self._server.should_exit = True
        if self._main is not None:
            await self._main
        await self._server.shutdown(sockets=[self.socket])
