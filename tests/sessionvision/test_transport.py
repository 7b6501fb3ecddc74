"""IngestTransport against real servers on loopback, driven from uvloop (as the gateway runs it)."""

from __future__ import annotations

import gzip
import ssl
import tracemalloc
from pathlib import Path

import httpx
import pytest
import uvloop

from sv_otel.errors import PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.sessionvision import IngestClient
from sv_otel.sessionvision.transport import IngestTransport
from tests.loop_thread import LoopThread
from tests.receiver.certs import Certificates, make_certificates
from tests.sessionvision.ingest_server import running_ingest_server
from tests.sessionvision.posting import on_uvloop, post
from tests.sessionvision.raw_server import OK, SILENT, running_raw_server


def test_requests_share_one_keep_alive_connection(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:

        async def scenario(transport: IngestTransport) -> list[int]:
            return [(await post(transport, server.url, b"[%d]" % n)).status_code for n in range(3)]

        assert on_uvloop(scenario) == [200, 200, 200]
    assert [(s.connection, s.body) for s in server.seen] == [(0, b"[0]"), (0, b"[1]"), (0, b"[2]")]
    head = server.seen[0].head
    assert head.startswith(b"POST /api/v1/ingest/events HTTP/1.1\r\n")
    assert b"\r\nContent-Length: 3\r\n" in head
    assert b"\r\nHost: 127.0.0.1:" in head


def test_an_idle_connection_the_server_dropped_is_replaced_once(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        server.answer(OK)
        server.answer(None)  # the second request, on the kept connection, is dropped unanswered

        async def scenario(transport: IngestTransport) -> list[int]:
            return [(await post(transport, server.url, b"[%d]" % n)).status_code for n in range(2)]

        assert on_uvloop(scenario) == [200, 200]
    assert [(s.connection, s.body) for s in server.seen] == [(0, b"[0]"), (0, b"[1]"), (1, b"[1]")]


def test_no_answer_in_time_is_a_read_timeout_and_the_connection_is_dropped(
    loop: LoopThread,
) -> None:
    with running_raw_server(loop) as server:
        server.answer(SILENT)

        async def scenario(transport: IngestTransport) -> int:
            with pytest.raises(httpx.ReadTimeout) as caught:
                await post(transport, server.url, read=0.2)
            assert str(caught.value) == "no complete answer in time"
            return (await post(transport, server.url)).status_code

        assert on_uvloop(scenario) == 200
    assert [s.connection for s in server.seen] == [0, 1]


def test_unreachable_and_unsupported_urls() -> None:
    async def scenario(transport: IngestTransport) -> None:
        with pytest.raises(httpx.ConnectError) as refused:
            await post(transport, "http://127.0.0.1:1")
        assert str(refused.value).startswith("cannot connect to 127.0.0.1:1: ")
        with pytest.raises(httpx.UnsupportedProtocol) as caught:
            await transport.handle_async_request(httpx.Request("POST", "ftp://127.0.0.1/x"))
        assert str(caught.value) == "unsupported URL scheme 'ftp'"

    on_uvloop(scenario)


def _events() -> list[Event]:
    return [Event(event="click", timestamp=1_709_856_000_000, session_id="s1")]


def test_the_client_on_uvloop_delivers_and_classifies(loop: LoopThread) -> None:
    with running_ingest_server(loop) as server:

        async def scenario() -> None:
            async with IngestClient(server.url, retry_delays=(0.01,)) as client:
                server.plan(500)
                await client.send(_events())  # 500, then 200 on the retry
                server.plan(400)
                with pytest.raises(PermanentExportError):
                    await client.send(_events())

        uvloop.run(scenario())
    assert [r.status for r in server.received] == [500, 200, 400]
    assert server.events == _events()


def test_a_broken_answer_through_the_client_is_retryable(loop: LoopThread) -> None:
    with running_raw_server(loop) as server:
        server.answer(b"nonsense\r\n\r\n")

        async def scenario() -> None:
            async with IngestClient(server.url, retry_delays=()) as client:
                await client.send(_events())

        with pytest.raises(RetryableExportError) as caught:
            uvloop.run(scenario())
    assert caught.value.message.startswith(
        f"1 of 1 ingest requests (1 events) failed; first: {server.url}/api/v1/ingest/events: "
        "RemoteProtocolError: malformed HTTP response: "
    )


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(Path(tmp_path_factory.mktemp("certificates")))


def _server_tls(certificates: Certificates) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates.server_cert, certificates.server_key)
    return context


def test_https_hosts_are_verified_against_the_trusted_authorities(
    loop: LoopThread, certificates: Certificates
) -> None:
    async def post_twice(transport: IngestTransport, url: str) -> list[int]:
        try:
            return [(await post(transport, url, b"[%d]" % n)).status_code for n in range(2)]
        finally:
            await transport.aclose()

    trusting = ssl.create_default_context(cafile=certificates.ca)
    with running_raw_server(loop, _server_tls(certificates)) as server:
        assert server.url.startswith("https://")
        assert uvloop.run(post_twice(IngestTransport(ssl_context=trusting), server.url)) == [
            200,
            200,
        ]
        # httpx's default authorities (certifi) do not know the test CA: refused, nothing sent.
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            uvloop.run(post_twice(IngestTransport(), server.url))
    assert [(s.connection, s.body) for s in server.seen] == [(0, b"[0]"), (0, b"[1]")]


def test_the_client_trusts_the_authorities_of_ssl_cert_file(
    loop: LoopThread, certificates: Certificates, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca))
    with running_raw_server(loop, _server_tls(certificates)) as server:

        async def send() -> None:
            async with IngestClient(server.url, retry_delays=()) as client:
                await client.send(_events())

        uvloop.run(send())
    assert len(server.seen) == 1
    assert server.seen[0].head.startswith(b"POST /api/v1/ingest/events HTTP/1.1\r\n")


def test_compressed_answers_are_kept_as_sent(loop: LoopThread) -> None:
    # Nothing asks for Content-Encoding: an answer carrying one is not inflated (64 KiB of gzip
    # held 64 MiB), and one that would not inflate is still an answer, not a broken connection.
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    head = b"HTTP/1.1 %s\r\ncontent-encoding: gzip\r\ncontent-length: %d\r\n\r\n"
    with running_raw_server(loop) as server:
        server.answer(head % (b"500 Internal Server Error", len(bomb)) + bomb)
        server.answer(head % (b"200 OK", 7) + b"garbage")
        server.answer(b"HTTP/1.0 200 OK\r\ncontent-encoding: gzip\r\n\r\ngarbage", close=True)

        async def scenario(transport: IngestTransport) -> list[tuple[int, int]]:
            answers = []
            for _ in range(3):
                response = await post(transport, server.url)
                answers.append((response.status_code, len(response.content)))
            return answers

        tracemalloc.start()
        try:
            answers = on_uvloop(scenario)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert answers == [(500, len(bomb)), (200, 7), (200, 7)]  # the bytes sent, not 64 MiB
    assert peak < 16 * 1024 * 1024, f"{peak} bytes at the peak"
