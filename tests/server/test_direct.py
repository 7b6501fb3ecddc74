"""A direct route's answer is written exactly as uvicorn writes the same answer through ASGI."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable

import pytest
from starlette.types import Receive, Scope, Send

from sv_otel.server.direct import Answer, PendingRequest, render_answer
from sv_otel.server.sockets import HttpServer, bind_socket

pytestmark = pytest.mark.anyio

ANSWER = Answer(201, b'{"accepted":2}', {"Retry-After": "3", "X-Request-Id": "r-1"})


class Fixed:
    """A direct route that answers every request with ``answer`` once its body is in."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def begin(self, method: str, headers: dict[str, str]) -> Answer | PendingRequest:
        return _Pending(self.answer)


class _Pending:
    max_bytes = 1 << 20
    timeout = 10.0

    def __init__(self, answer: Answer) -> None:
        self.answer = answer

    def finish(self, body: bytes, respond: Callable[[Answer], None]) -> Answer | None:
        return self.answer

    def too_large(self) -> Answer:
        return Answer(413, b"{}", {})

    def timed_out(self) -> Answer:
        return Answer(408, b"{}", {})

    def abandon(self) -> None:
        """Nothing held."""


async def asgi_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """The same answer through ASGI, for every request the direct route does not take."""
    while (await receive()).get("more_body"):
        pass
    headers = [(k.lower().encode(), v.encode()) for k, v in ANSWER.headers.items()]
    headers.append((b"content-type", b"application/json"))
    headers.append((b"content-length", b"%d" % len(ANSWER.body)))
    await send({"type": "http.response.start", "status": ANSWER.status, "headers": headers})
    await send({"type": "http.response.body", "body": ANSWER.body})


def exchange(port: int, path: str, *, close: bool) -> bytes:
    request = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n%s\r\n{}" % (
        path.encode(),
        b"Connection: close\r\n" if close else b"",
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while not data.endswith(ANSWER.body) and (chunk := sock.recv(65536)):
            data += chunk
    return b"\r\n".join(line for line in data.split(b"\r\n") if not line.startswith(b"date: "))


@pytest.mark.parametrize("close", [False, True], ids=["keep-alive", "close"])
async def test_a_direct_answer_is_byte_for_byte_what_uvicorn_writes_through_asgi(
    close: bool,
) -> None:
    server = HttpServer(
        asgi_answer, bind_socket("127.0.0.1", 0, reuse_port=False), routes={"/d": Fixed(ANSWER)}
    )
    await server.start()
    try:
        direct = await asyncio.to_thread(exchange, server.port, "/d", close=close)
        through_asgi = await asyncio.to_thread(exchange, server.port, "/asgi", close=close)
    finally:
        await server.shutdown()
    assert direct.startswith(b"HTTP/1.1 201 Created\r\n")
    assert direct == through_asgi


def test_render_answer_writes_default_headers_then_the_answers_then_the_body() -> None:
    rendered = render_answer(ANSWER, [(b"date", b"Mon, 23 Nov 2026 07:00:00 GMT")], True)
    assert rendered == (
        b"HTTP/1.1 201 Created\r\ndate: Mon, 23 Nov 2026 07:00:00 GMT\r\n"
        b"retry-after: 3\r\nx-request-id: r-1\r\n"
        b"content-type: application/json\r\ncontent-length: 14\r\n\r\n" + ANSWER.body
    )


def test_render_answer_closes_when_asked_and_gives_a_204_no_content_headers() -> None:
    rendered = render_answer(Answer(204, b"", {}), [], False)
    assert rendered == b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n"


def test_render_answer_refuses_a_header_value_with_a_line_break() -> None:
    assert render_answer(Answer(200, b"{}", {"X-Evil": "a\r\nset-cookie: x"}), [], True) is None
