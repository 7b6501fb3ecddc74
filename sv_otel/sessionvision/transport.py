"""``IngestTransport``: a small keep-alive HTTP/1.1 connection pool on asyncio, for ingest posts.

An :class:`httpx.AsyncBaseTransport`, so :class:`~sv_otel.IngestClient` hands it the same
:class:`httpx.Request` any httpx transport takes and gets an :class:`httpx.Response` back, with
httpx's exceptions for failures. It exists for speed: the ingest client posts one small gzip body
per session, and httpx's default transport (httpcore over anyio) spends about 1 ms of CPU on each
post, twenty times what the post itself needs (``benchmarks/receiver.py`` and the README's
receiver section have the figures). This one writes the request head and body in one call on an
:class:`asyncio.Protocol` and parses the answer with ``httptools`` (llhttp, the parser uvicorn
uses), so responses framed by ``Content-Length``, ``chunked`` or the end of the connection are
all read correctly. One connection is a :class:`~sv_otel.sessionvision.connection.Connection`;
this module pools them and bounds each exchange in time.

What it does not do: proxies, HTTP/2, redirects, cookies, response decompression (it sends no
``Accept-Encoding``) or ``HEAD``. :class:`~sv_otel.IngestClient` falls back to httpx's own
transport when an ``HTTPS_PROXY``/``HTTP_PROXY`` environment variable applies to the ingest host.

Behaviour:

* connections are kept alive and reused (at most ``max_idle`` idle ones per host), one request at
  a time each; the caller bounds how many are open at once (the client's ``max_concurrency``);
* the ``timeout`` extension of a request (``connect``, ``write``, ``read``) is honoured: ``read``
  bounds the wait for the whole answer; a timed-out connection is closed, never reused;
* a reused connection that the server closed while idle is replaced once, at once (the request
  was not answered; the server may close idle connections whenever it likes);
* the body kept of an answer is its first ``MAX_RESPONSE_BODY`` bytes (an ingest answer is a
  few bytes; an error excerpt needs 200 characters), and a status line and headers longer than
  ``MAX_RESPONSE_HEAD`` fail the request, so a hostile host cannot fill memory (both limits are
  in :mod:`sv_otel.sessionvision.connection`).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Final

import httpx

from sv_otel.sessionvision.connection import Connection

__all__ = ["IngestTransport"]

_CLOSE_TIMEOUT: Final = 1.0
"""Seconds :meth:`IngestTransport.aclose` waits for connections to close before aborting them."""

_DEFAULT_PORTS: Final = {b"http": 80, b"https": 443}


class IngestTransport(httpx.AsyncBaseTransport):
    """Posts over pooled keep-alive HTTP/1.1 connections (see the module docstring).

    Args:
        max_idle: idle connections kept per host for the next requests.
        ssl_context: the TLS settings of ``https`` hosts; default httpx's (certifi's CA
            bundle, ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` honoured).
    """

    def __init__(self, *, max_idle: int = 8, ssl_context: ssl.SSLContext | None = None) -> None:
        self.max_idle = max_idle
        self._ssl = ssl_context
        self._idle: dict[tuple[bytes, bytes, int], list[Connection]] = {}
        self._busy: set[Connection] = set()
        self._open: set[Connection] = set()  # every connection not yet lost

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and read its answer.

        Raises:
            httpx.ConnectTimeout, httpx.WriteTimeout, httpx.ReadTimeout: a phase took longer
                than the request's ``timeout`` extension allows.
            httpx.ConnectError: the host cannot be reached.
            httpx.RemoteProtocolError, httpx.ReadError: the connection broke or the answer is
                not HTTP.
            httpx.UnsupportedProtocol: the URL is not ``http`` or ``https``.
        """
        url = request.url
        scheme = url.raw_scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        key = (scheme, url.raw_host, url.port or _DEFAULT_PORTS[scheme])
        timeouts = request.extensions.get("timeout", {})
        await request.aread()  # the body, if it was given as a stream
        head = _head(request)
        connection, reused = self._take(key), True
        if connection is None:
            connection, reused = await self._connect(key, timeouts.get("connect")), False
        self._busy.add(connection)
        try:
            try:
                return await self._exchange(connection, request, head, timeouts)
            except (httpx.RemoteProtocolError, httpx.ReadError):
                if not reused or connection.received:
                    raise
            # The server closed the idle connection as we reused it: once more on a new one.
            self._busy.discard(connection)
            connection = await self._connect(key, timeouts.get("connect"))
            self._busy.add(connection)
            return await self._exchange(connection, request, head, timeouts)
        finally:
            self._busy.discard(connection)
            connection.release()
            if connection.reusable and not connection.closed:
                idle = self._idle.setdefault(key, [])
                if len(idle) < self.max_idle:
                    idle.append(connection)
                else:
                    connection.close()
            else:
                connection.close()

    async def aclose(self) -> None:
        """Close every connection, idle or busy, and wait (briefly) until they are closed.

        A TLS connection closes with a round trip (``close_notify``); one that has not closed
        within :data:`_CLOSE_TIMEOUT` seconds is aborted, so the event loop can stop cleanly
        right after.
        """
        self._idle.clear()
        opened = list(self._open)
        for connection in opened:
            connection.close()
        waiting = [connection.lost for connection in opened if not connection.lost.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=_CLOSE_TIMEOUT)
        for connection in opened:
            if not connection.lost.done() and connection.transport is not None:
                connection.transport.abort()
        if any(not connection.lost.done() for connection in opened):
            await asyncio.sleep(0)  # abort() reports connection_lost on the next iteration

    def _take(self, key: tuple[bytes, bytes, int]) -> Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, key: tuple[bytes, bytes, int], timeout: float | None) -> Connection:
        scheme, raw_host, port = key
        host = raw_host.decode("ascii")
        context: ssl.SSLContext | None = None
        if scheme == b"https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        connecting = loop.create_connection(
            Connection, host, port, ssl=context, server_hostname=host if context else None
        )
        try:
            _, connection = await asyncio.wait_for(connecting, timeout)
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"connecting to {host}:{port} timed out") from None
        except OSError as error:
            raise httpx.ConnectError(f"cannot connect to {host}:{port}: {error}") from None
        self._open.add(connection)
        connection.lost.add_done_callback(lambda _: self._open.discard(connection))
        return connection

    @staticmethod
    async def _exchange(
        connection: Connection,
        request: httpx.Request,
        head: bytes,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        answer = connection.send(request, head)
        timer: asyncio.TimerHandle | None = None
        try:
            if connection.paused:
                try:
                    await asyncio.wait_for(connection.drained(), timeouts.get("write"))
                except asyncio.TimeoutError:
                    raise httpx.WriteTimeout("writing the request timed out") from None
            read = timeouts.get("read")
            if read is not None:
                timer = asyncio.get_running_loop().call_later(read, _expire, answer)
            return await answer
        except BaseException:
            connection.close()  # half a request or an unread answer: never reuse it
            if not answer.done():
                answer.cancel()
            raise
        finally:
            if timer is not None:
                timer.cancel()


def _expire(answer: asyncio.Future[httpx.Response]) -> None:
    if not answer.done():
        answer.set_exception(httpx.ReadTimeout("no complete answer in time"))


def _head(request: httpx.Request) -> bytes:
    """The request line and headers (httpx has set ``Host`` and ``Content-Length``)."""
    lines = [b"%s %s HTTP/1.1" % (request.method.encode("ascii"), request.url.raw_path)]
    lines += [b"%s: %s" % pair for pair in request.headers.raw]
    lines.append(b"\r\n")
    return b"\r\n".join(lines)
