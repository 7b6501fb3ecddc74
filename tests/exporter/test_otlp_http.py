"""The OTLP/HTTP exporter against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from sv_otel.errors import PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.exporter.otlp_http import MAX_RESPONSE_BYTES, OTLPHttpExporter
from sv_otel.exporter.otlp_settings import OTLPSettings
from tests.sinks import Failure, http_sink

pytestmark = pytest.mark.anyio

EVENTS = [Event(event="a", timestamp=1, session_id="s1", properties={"n": 1})]


@pytest.mark.parametrize("encoding", ["proto", "json"])
async def test_exports_in_either_encoding_with_gzip(encoding: str) -> None:
    async with http_sink() as (sink, port):
        settings = OTLPSettings(
            endpoint=f"http://127.0.0.1:{port}", encoding=encoding, compression="gzip"
        )
        exporter = OTLPHttpExporter("otlphttp", "logs", settings)
        await exporter.export(EVENTS)
        await exporter.shutdown()
    assert sink.session_event_names() == [("s1", "a")]
    (record,) = sink.log_records()
    assert {kv.key: kv.value.int_value for kv in record.attributes if kv.key == "n"} == {"n": 1}
    assert sink.headers[0]["content-encoding"] == "gzip"
    expected = "application/json" if encoding == "json" else "application/x-protobuf"
    assert sink.headers[0]["content-type"] == expected


async def test_503_with_retry_after_is_retryable_and_400_is_permanent() -> None:
    async with http_sink() as (sink, port):
        exporter = OTLPHttpExporter(
            "otlphttp", "traces", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        sink.fail_next(1, Failure(http_status=503, retry_after=4))
        with pytest.raises(RetryableExportError) as raised:
            await exporter.export(EVENTS)
        assert raised.value.retry_after == 4.0
        assert raised.value.message == "HTTP 503: scripted failure"
        sink.fail_next(1, Failure(http_status=400))
        with pytest.raises(PermanentExportError, match="HTTP 400: scripted failure"):
            await exporter.export(EVENTS)
        await exporter.export(EVENTS)
        await exporter.shutdown()
    assert len(sink.traces) == 1


async def test_connection_refused_is_retryable() -> None:
    async with http_sink() as (_, port):
        pass
    exporter = OTLPHttpExporter(
        "otlphttp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
    )
    with pytest.raises(RetryableExportError, match="ConnectError"):
        await exporter.export(EVENTS)
    await exporter.shutdown()


async def read_request(reader: asyncio.StreamReader) -> None:
    """Read one request with a ``Content-Length`` body."""
    request_head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in request_head.lower().split(b"\r\n")
        if line.startswith(b"content-length:")
    )
    await reader.readexactly(length)


@contextlib.asynccontextmanager
async def endless_answer(head: bytes, pause: float = 0.0) -> AsyncIterator[tuple[int, list[int]]]:
    """A server answering every request with ``head`` and then a chunked body without end.

    Yields the port and a list that gets the bytes of body sent on each connection once the
    client has gone (or after 30 s, so a client that never stops cannot hang the test).
    """
    sent: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(head + b"\r\n")
        chunk = b"\x0a" * (64 * 1024 if not pause else 1)
        total = 0
        deadline = asyncio.get_running_loop().time() + 30
        try:
            while asyncio.get_running_loop().time() < deadline:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
                total += len(chunk)
                await asyncio.sleep(pause)
        except ConnectionError:
            pass
        finally:
            sent.append(total)
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1], sent


CHUNKED = b"transfer-encoding: chunked\r\ncontent-type: application/x-protobuf\r\n"


async def test_an_endless_answer_is_read_only_up_to_its_limit() -> None:
    for status, outcome in ((b"200 OK", None), (b"503 Service Unavailable", "HTTP 503")):
        async with endless_answer(b"HTTP/1.1 " + status + b"\r\n" + CHUNKED) as (port, sent):
            settings = OTLPSettings(endpoint=f"http://127.0.0.1:{port}", timeout=30.0)
            exporter = OTLPHttpExporter("otlphttp", "logs", settings)
            if outcome is None:
                await exporter.export(EVENTS)  # a 200 is a success, whatever follows it
            else:
                with pytest.raises(RetryableExportError, match=outcome):
                    await exporter.export(EVENTS)
            await exporter.shutdown()
            while not sent:
                await asyncio.sleep(0.01)
        assert MAX_RESPONSE_BYTES <= sent[0] < 30 * MAX_RESPONSE_BYTES


async def test_the_timeout_bounds_the_whole_export() -> None:
    # One byte every 50 ms: no single read waits for the timeout, the answer never ends.
    async with endless_answer(b"HTTP/1.1 200 OK\r\n" + CHUNKED, pause=0.05) as (port, _):
        settings = OTLPSettings(endpoint=f"http://127.0.0.1:{port}", timeout=0.5)
        exporter = OTLPHttpExporter("otlphttp", "logs", settings)
        with pytest.raises(
            RetryableExportError, match=r"no complete answer within the timeout \(0.5 s\)"
        ):
            await exporter.export(EVENTS)
        await exporter.shutdown()


@contextlib.asynccontextmanager
async def fixed_answer(status: bytes, headers: bytes, body: bytes) -> AsyncIterator[int]:
    """A server answering every request with ``status``, ``headers`` and ``body``."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 %s\r\n%scontent-length: %d\r\n\r\n" % (status, headers, len(body)))
        writer.write(body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


GZIP_JSON = b"content-encoding: gzip\r\ncontent-type: application/json\r\n"


async def test_a_compressed_answer_is_decoded_within_the_limit() -> None:
    # 64 KiB of gzip that inflates to 64 MiB: read raw, inflated only up to the limit.
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    status = gzip.compress(b'{"code": 14, "message": "busy"}')
    outcomes = []
    for body in (bomb, status):
        async with fixed_answer(b"503 Service Unavailable", GZIP_JSON, body) as port:
            settings = OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
            exporter = OTLPHttpExporter("otlphttp", "logs", settings)
            tracemalloc.start()
            try:
                with pytest.raises(RetryableExportError) as raised:
                    await exporter.export(EVENTS)
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            await exporter.shutdown()
        outcomes.append(raised.value.message)
        assert peak < 4 * MAX_RESPONSE_BYTES, f"{peak} bytes at the peak"  # not the 64 MiB
    assert outcomes == ["HTTP 503", "HTTP 503: busy"]  # the bomb reads as no body at all


async def test_an_answer_is_quoted_on_one_line() -> None:
    body = b"bad request\r\nsv-otel: INFO sv_otel.exporter.delivery: forged line"
    async with fixed_answer(b"400 Bad Request", b"content-type: text/plain\r\n", body) as port:
        exporter = OTLPHttpExporter(
            "otlphttp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        with pytest.raises(PermanentExportError) as raised:
            await exporter.export(EVENTS)
        await exporter.shutdown()
    assert raised.value.message == (
        "HTTP 400: bad request\\r\\nsv-otel: INFO sv_otel.exporter.delivery: forged line"
    )
