"""Connection's answers, read through IngestTransport from raw servers on loopback, on uvloop."""

from __future__ import annotations

import httpx
import pytest

from sv_otel.sessionvision.connection import MAX_RESPONSE_BODY, MAX_RESPONSE_HEAD
from sv_otel.sessionvision.transport import IngestTransport
from tests.loop_thread import LoopThread
from tests.sessionvision.posting import on_uvloop, post
from tests.sessionvision.raw_server import OK, running_raw_server


def test_chunked_and_connection_delimited_answers_are_read(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        chunks = b"3\r\nbus\r\n1\r\ny\r\n0\r\n\r\n"
        server.answer(b"HTTP/1.1 503 Busy\r\ntransfer-encoding: chunked\r\n\r\n" + chunks)
        server.answer(b"HTTP/1.1 500 Oops\r\ncontent-type: text/plain\r\n\r\nbroken", close=True)

        async def scenario(transport: IngestTransport) -> list[tuple[int, bytes]]:
            answers = [await post(transport, server.url) for _ in range(3)]
            return [(a.status_code, a.content) for a in answers]

        assert on_uvloop(scenario) == [(503, b"busy"), (500, b"broken"), (200, b"{}")]
    # the connection-delimited answer ended its connection: the third request took a new one
    assert [s.connection for s in server.seen] == [0, 0, 1]


def test_an_interim_100_continue_is_skipped(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        server.answer(b"HTTP/1.1 100 Continue\r\n\r\n" + OK)

        async def scenario(transport: IngestTransport) -> int:
            return (await post(transport, server.url)).status_code

        assert on_uvloop(scenario) == 200


def test_connection_close_is_honoured(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        server.answer(b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n")

        async def scenario(transport: IngestTransport) -> None:
            await post(transport, server.url)
            await post(transport, server.url)

        on_uvloop(scenario)
    assert [s.connection for s in server.seen] == [0, 1]


def test_a_new_connection_closed_unanswered_is_an_error(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        server.answer(None)

        async def scenario(transport: IngestTransport) -> None:
            await post(transport, server.url)

        with pytest.raises(httpx.RemoteProtocolError) as caught:
            on_uvloop(scenario)
    assert str(caught.value) == "server disconnected without sending a response"
    assert len(server.seen) == 1  # a fresh connection is not tried again here


def test_a_malformed_answer_is_a_protocol_error(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        server.answer(b"SMTP ready\r\n\r\n")

        async def scenario(transport: IngestTransport) -> None:
            await post(transport, server.url)

        with pytest.raises(httpx.RemoteProtocolError) as caught:
            on_uvloop(scenario)
    assert str(caught.value).startswith("malformed HTTP response: ")


def test_a_huge_answer_keeps_only_its_head(loop: LoopThread) -> None:
    size = 4 * MAX_RESPONSE_BODY
    with running_raw_server(loop) as server:
        server.answer(b"HTTP/1.1 400 Bad\r\ncontent-length: %d\r\n\r\n" % size + b"x" * size)

        async def scenario(transport: IngestTransport) -> list[tuple[int, int]]:
            answers = [await post(transport, server.url) for _ in range(2)]
            return [(a.status_code, len(a.content)) for a in answers]

        assert on_uvloop(scenario) == [(400, MAX_RESPONSE_BODY), (200, 2)]
    assert [s.connection for s in server.seen] == [0, 0]  # read to its end: still usable


def test_endless_headers_fail_the_request_and_the_connection(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        # Headers that never end (in one value, then in many): bounded, not buffered for ever.
        server.answer(b"HTTP/1.1 200 OK\r\nx-long: " + b"a" * (2 * MAX_RESPONSE_HEAD))
        server.answer(b"HTTP/1.1 200 OK\r\n" + b"x-many: 1\r\n" * MAX_RESPONSE_HEAD)

        async def scenario(transport: IngestTransport) -> list[str]:
            messages = []
            for _ in range(2):
                with pytest.raises(httpx.RemoteProtocolError) as caught:
                    await post(transport, server.url)
                messages.append(str(caught.value))
            messages.append(str((await post(transport, server.url)).status_code))
            return messages

        expected = f"response status line and headers over {MAX_RESPONSE_HEAD} bytes"
        assert on_uvloop(scenario) == [expected, expected, "200"]
    assert [s.connection for s in server.seen] == [0, 1, 2]  # a failed one is never reused
