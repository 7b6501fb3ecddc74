"""A test sessionvision ingest host: a real HTTP server on 127.0.0.1 that records every request.

It answers ``POST /api/v1/ingest/events`` with 200 unless told otherwise: :meth:`IngestServer.plan`
queues answers for the next requests (a status code, a status with headers, or ``HANG`` to hold
the request for a while and then answer 503, as a stuck backend would).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Final

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sv_otel.batch import ParsedBatch, parse_batch
from sv_otel.errors import InvalidBatchError
from sv_otel.event import Event
from tests.loop_thread import LoopThread

HANG: Final = "hang"

Answer = int | tuple[int, dict[str, str]] | str


@dataclass
class Received:
    """One request as the server saw it."""

    headers: dict[str, str]
    body: bytes
    events: list[Event]
    token: str | None
    status: int


@dataclass
class IngestServer:
    """The server; ``received`` lists every request, ``accepted`` those answered 2xx."""

    hang_seconds: float = 2.0
    received: list[Received] = field(default_factory=list)
    _plan: deque[Answer] = field(default_factory=deque)
    _server: uvicorn.Server | None = None
    _task: asyncio.Task[None] | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def accepted(self) -> list[Received]:
        return [r for r in self.received if 200 <= r.status < 300]

    @property
    def events(self) -> list[Event]:
        """Every event of every accepted request, in arrival order."""
        return [event for request in self.accepted for event in request.events]

    def plan(self, *answers: Answer) -> None:
        """Answer the next requests with ``answers``, in order, then 200 again."""
        self._plan.extend(answers)

    async def _ingest(self, request: Request) -> Response:
        raw = await request.body()
        try:
            batch = parse_batch(raw, content_encoding=request.headers.get("content-encoding"))
        except InvalidBatchError:  # recorded with no events; answered as planned
            batch = ParsedBatch()
        answer: Answer = self._plan.popleft() if self._plan else 200
        headers: dict[str, str] = {}
        if answer == HANG:
            status = 503
            self.received.append(Received(dict(request.headers), raw, batch.events, None, status))
            await asyncio.sleep(self.hang_seconds)
            return Response(b"too late", status)
        if isinstance(answer, tuple):
            status, headers = answer
        else:
            status = int(answer)
        self.received.append(
            Received(dict(request.headers), raw, batch.events, batch.token, status)
        )
        body = b'{"ok":true}' if status < 300 else b'{"error":"planned failure"}'
        return Response(body, status, headers=headers, media_type="application/json")

    async def start(self) -> None:
        app = Starlette(routes=[Route("/api/v1/ingest/events", self._ingest, methods=["POST"])])
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            app, log_config=None, access_log=False, lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.005)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task


@contextlib.contextmanager
def running_ingest_server(loop: LoopThread, *, hang_seconds: float = 2.0) -> Iterator[IngestServer]:
    """Start an :class:`IngestServer` on a :class:`~tests.loop_thread.LoopThread`."""
    server = IngestServer(hang_seconds=hang_seconds)
    loop.run(server.start())
    try:
        yield server
    finally:
        loop.run(server.stop())
