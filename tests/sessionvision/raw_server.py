"""A scripted HTTP/1.1 server on 127.0.0.1 speaking raw bytes, for the transport's edge cases.

Each request (head and ``Content-Length`` body) is recorded with the number of the connection it
came on; the answer is the next scripted one: raw bytes to write, optionally followed by closing
the connection (``close=True``), or ``None`` to close without answering, or ``SILENT`` to never
answer. Unscripted requests get ``200 OK`` with ``{}``. Given a server ``tls`` context it speaks
HTTPS.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

from tests.loop_thread import LoopThread

OK: Final = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"
SILENT: Final = b""


@dataclass
class Seen:
    """One request: the connection it came on (0, 1, ...), its head and its body."""

    connection: int
    head: bytes
    body: bytes


@dataclass
class RawServer:
    """The server (see the module docstring)."""

    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    _script: deque[tuple[bytes | None, bool]] = field(default_factory=deque)
    _connections: int = 0
    _server: asyncio.Server | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    tls: ssl.SSLContext | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def answer(self, data: bytes | None, *, close: bool = False) -> None:
        """Script the answer to the next unanswered request."""
        self._script.append((data, close))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        number = self._connections
        self._connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length)
                self.seen.append(Seen(number, head, body))
                data, close = self._script.popleft() if self._script else (OK, False)
                if data is None:
                    break
                if data == SILENT:
                    await self._stopping.wait()
                writer.write(data)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.tls)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._server.wait_closed(), 1.0)


@contextlib.contextmanager
def running_raw_server(loop: LoopThread, tls: ssl.SSLContext | None = None) -> Iterator[RawServer]:
    """Start a :class:`RawServer` (HTTPS with ``tls``) on a background loop."""
    server = RawServer(tls=tls)
    loop.run(server.start())
    try:
        yield server
    finally:
        loop.run(server.stop())
