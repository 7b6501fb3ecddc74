"""``Connection``: one keep-alive HTTP/1.1 client connection of ``IngestTransport``'s pool.

An :class:`asyncio.Protocol` that writes one request at a time (head and body in one call) and
parses its answer with ``httptools`` as the bytes arrive, into an :class:`httpx.Response` or one
of httpx's exceptions. :class:`~sv_otel.sessionvision.transport.IngestTransport` opens, pools,
times and closes connections; this module holds what happens on one: framing by
``Content-Length``, ``chunked`` or the end of the connection, interim ``1xx`` answers skipped,
``Connection: close`` honoured (the connection is then not ``reusable``), and the limits
:data:`MAX_RESPONSE_BODY` and :data:`MAX_RESPONSE_HEAD` on what a host can make it hold.
"""

from __future__ import annotations

import asyncio
from typing import Final, cast

import httptools
import httpx

__all__ = ["MAX_RESPONSE_BODY", "MAX_RESPONSE_HEAD", "Connection"]

MAX_RESPONSE_BODY: Final = 64 * 1024
"""The most bytes of a response body kept; the rest is read and dropped."""

MAX_RESPONSE_HEAD: Final = 64 * 1024
"""The most bytes received before a response's headers are complete; more fails the request."""


class Connection(asyncio.Protocol):
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
        lowered = name.lower()
        if lowered == b"content-encoding":
            # Nothing asked for one, and the kept body is only ever quoted in messages: left
            # out, so that httpx does not inflate 64 KiB of gzip into 64 MiB.
            return
        self._headers.append((name, value))
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
        try:
            response = httpx.Response(
                self._status,
                headers=self._headers,
                content=b"".join(self._body),
                request=self._request,
                extensions={"http_version": b"HTTP/1.1"},
            )
        except Exception as error:  # the answer is always settled, never left to time out
            self._fail(httpx.RemoteProtocolError(f"unreadable response: {error!r}"))
            return
        self._answer.set_result(response)

    def _fail(self, error: Exception) -> None:
        self.reusable = False
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(error)
        self.close()
