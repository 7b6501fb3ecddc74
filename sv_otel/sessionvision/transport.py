"""``IngestTransport``: a small keep-alive HTTP/1.1 connection pool on asyncio, for ingest posts.

An :class:`httpx.AsyncBaseTransport`, so :class:`~sv_otel.IngestClient` hands it the same
:class:`httpx.Request` any httpx transport takes and gets an :class:`httpx.Response` back, with
httpx's exceptions for failures. It exists for speed: the ingest client posts one small gzip body
per session, and httpx's default transport (httpcore over anyio) spends about 1 ms of CPU on each
post, twenty times what the post itself needs (``benchmarks/receiver.py`` and the README's
receiver section have the figures). This one writes the request head and body in one call on an
:class:`asyncio.Protocol` and parses the answer with ``httptools`` (llhttp, the parser uvicorn
uses), so responses framed by ``Content-Length``, ``chunked`` or the end of the connection are
all read correctly.

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
* the body kept of an answer is its first :data:`MAX_RESPONSE_BODY` bytes (an ingest answer is a
  few bytes; an error excerpt needs 200 characters), and a status line and headers longer than
  :data:`MAX_RESPONSE_HEAD` fail the request, so a hostile host cannot fill memory.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Final, cast

import httptools
import httpx

__all__ = ["MAX_RESPONSE_BODY", "MAX_RESPONSE_HEAD", "IngestTransport"]

MAX_RESPONSE_BODY: Final = 64 * 1024
"""The most bytes of a response body kept; the rest is read and dropped."""

MAX_RESPONSE_HEAD: Final = 64 * 1024
"""The most bytes received before a response's headers are complete; more fails the request."""

_CLOSE_TIMEOUT: Final = 1.0
"""Seconds :meth:`IngestTransport.aclose` waits for connections to close before aborting them."""

_DEFAULT_PORTS: Final = {b"http": 80, b"https": 443}


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, the answer parsed as it arrives."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = True
        self.received = False  # any byte of the current answer arrived
        self._answer: asyncio.Future[httpx.Response] | None = None
        self._request: httpx.Request | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] = []
        self._kept = 0
        self._framed = False  # Content-Length or chunked: the end is not the connection's end
        self._writable: asyncio.Future[None] | None = None
        self._head_bytes = 0  # received while the current answer's headers are incomplete
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # nothing asked: the server is not speaking HTTP to us
            self.close()
            return
        self.received = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
            return
        except httptools.HttpParserError as error:
            self._fail(httpx.RemoteProtocolError(f"malformed HTTP response: {error}"))
            return
        if not self._status:  # the headers are still incomplete after this data
            self._head_bytes += len(data)
            if self._head_bytes > MAX_RESPONSE_HEAD:
                self._fail(
                    httpx.RemoteProtocolError(
                        f"response status line and headers over {MAX_RESPONSE_HEAD} bytes"
                    )
                )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.lost.done():
            self.lost.set_result(None)
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if self._answer is None or self._answer.done():
            return
        if self._status and not self._framed:  # the body ends with the connection
            self.reusable = False
            self._finish()
        elif exc is not None:
            self._fail(httpx.ReadError(f"connection lost: {exc}"))
        elif self.received:
            self._fail(httpx.RemoteProtocolError("server disconnected in the middle of a response"))
        else:
            self._fail(httpx.RemoteProtocolError("server disconnected without sending a response"))

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    # httptools callbacks

    def on_message_begin(self) -> None:
        if self._answer is None or self._answer.done():  # a second answer to one request
            self.reusable = False
        self._status, self._headers, self._body, self._kept, self._framed = 0, [], [], 0, False
        self._head_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name, value))
        lowered = name.lower()
        if lowered == b"content-length" or (
            lowered == b"transfer-encoding" and b"chunked" in value.lower()
        ):
            self._framed = True

    def on_headers_complete(self) -> None:
        assert self._parser is not None
        self._status = self._parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        room = MAX_RESPONSE_BODY - self._kept
        if room > 0:
            part = body[:room]
            self._body.append(part)
            self._kept += len(part)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:  # an interim answer (100 Continue): the real one follows
            return
        assert self._parser is not None
        if not self._parser.should_keep_alive():
            self.reusable = False
        self._finish()

    # the request side

    def send(self, request: httpx.Request, head: bytes) -> asyncio.Future[httpx.Response]:
        """Write ``request`` and return the future of its answer."""
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._request = request
        self._parser = httptools.HttpResponseParser(self)
        self.received = False
        self._head_bytes = 0
        self.transport.writelines((head, request.content))
        return self._answer

    @property
    def paused(self) -> bool:
        """Whether the transport's write buffer is above its high-water mark."""
        return self._writable is not None and not self._writable.done()

    async def drained(self) -> None:
        """Return once the write buffer is below its high-water mark again."""
        if self._writable is not None:
            await self._writable

    def release(self) -> None:
        """Forget the finished request (the connection may serve the next one)."""
        self._answer, self._request, self._parser = None, None, None
        self._body = []

    def close(self) -> None:
        self.reusable = False
        if self.transport is not None and not self.closed:
            self.closed = True
            self.transport.close()

    def _finish(self) -> None:
        assert self._answer is not None
        if self._answer.done():
            return
        self._answer.set_result(
            httpx.Response(
                self._status,
                headers=self._headers,
                content=b"".join(self._body),
                request=self._request,
                extensions={"http_version": b"HTTP/1.1"},
            )
        )

    def _fail(self, error: Exception) -> None:
        self.reusable = False
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()


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
        self._idle: dict[tuple[bytes, bytes, int], list[_Connection]] = {}
        self._busy: set[_Connection] = set()
        self._open: set[_Connection] = set()  # every connection not yet lost

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

    def _take(self, key: tuple[bytes, bytes, int]) -> _Connection | None:
        idle = self._idle.get(key)
        while idle:
            connection = idle.pop()
            if not connection.closed:
                return connection
        return None

    async def _connect(self, key: tuple[bytes, bytes, int], timeout: float | None) -> _Connection:
        scheme, raw_host, port = key
        host = raw_host.decode("ascii")
        context: ssl.SSLContext | None = None
        if scheme == b"https":
            if self._ssl is None:
                self._ssl = httpx.create_ssl_context()
            context = self._ssl
        loop = asyncio.get_running_loop()
        connecting = loop.create_connection(
            _Connection, host, port, ssl=context, server_hostname=host if context else None
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
        connection: _Connection,
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
