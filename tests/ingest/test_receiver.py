"""Hostile clients against a real ``sv-otel serve``: it answers, keeps serving, stays small."""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import msgspec
import pytest

from tests.gateway import gateway_config
from tests.helpers import event_json
from tests.serving import ServeProcess

pytestmark = pytest.mark.anyio

PATH = "/api/v1/ingest/events"
TINY = msgspec.json.encode([event_json()])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def request(body: bytes, *headers: str) -> bytes:
    head = [
        f"POST {PATH} HTTP/1.1",
        "Host: 127.0.0.1",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        "Connection: close",
        *headers,
    ]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def exchange(port: int, data: bytes) -> tuple[int, bytes, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await reader.read()
    finally:
        writer.close()
    if not answer:
        raise ConnectionError("the connection closed without an answer")
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


def gzip_bomb(size: int) -> bytes:
    """``size`` bytes of zeros as gzip: 1 MiB members back to back (about 1 KiB each)."""
    member = gzip.compress(bytes(1 << 20), compresslevel=9)
    return member * (size >> 20)


async def start(tmp_path: Path, **receiver: object) -> ServeProcess:
    config = gateway_config(tmp_path / "data", {"file": None}, **receiver)
    return await ServeProcess.start(config, tmp_path / "sv.yaml")


async def test_gzip_bomb_of_1_gb_gets_413_with_bounded_memory(tmp_path: Path) -> None:
    server = await start(tmp_path)
    port = server.ports["sessionvision http"]
    before = rss_kib(server.process.pid)
    bomb = gzip_bomb(1 << 30)
    status, _, body = await exchange(port, request(bomb, "Content-Encoding: gzip"))
    grown = rss_kib(server.process.pid) - before
    ok, _, _ = await exchange(port, request(TINY))
    exit_status = await server.stop()
    assert exit_status == 0, server.log
    assert status == 413
    assert msgspec.json.decode(body)["message"] == (
        "body: decompresses to more than the limit of 10485760 bytes"
    )
    assert grown < 100 * 1024  # KiB: the 1 GB never materialises
    assert ok == 200


async def test_slow_loris_body_gets_408_and_the_server_keeps_serving(tmp_path: Path) -> None:
    server = await start(tmp_path, body_timeout="1s")
    port = server.ports["sessionvision http"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        request(b"")[:-4].replace(b"Content-Length: 0", b"Content-Length: 1000") + b"\r\n\r\n"
    )
    answer = b""
    for _ in range(50):  # one byte every 0.1 s: never finishes within the timeout
        writer.write(b" ")
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(), 0.1)
        except asyncio.TimeoutError:
            continue
        break
    writer.close()
    ok, _, _ = await exchange(port, request(TINY))
    exit_status = await server.stop()
    assert exit_status == 0, server.log
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert msgspec.json.decode(body) == {
        "status": 408,
        "error": "request_timeout",
        "message": "body: not received within 1 seconds",
    }
    assert ok == 200


async def test_10k_concurrent_tiny_requests_each_get_200_or_503(tmp_path: Path) -> None:
    server = await start(tmp_path, max_concurrent_requests=256)
    port = server.ports["sessionvision http"]
    before = rss_kib(server.process.pid)
    data = request(TINY)

    async def one() -> int:
        try:
            status, head, _ = await exchange(port, data)
        except OSError:
            return -1  # refused by a full accept backlog: never acknowledged
        if status == 503:
            assert b"retry-after: 1" in head.lower()
        return status

    statuses = await asyncio.gather(*(one() for _ in range(10_000)))
    grown = rss_kib(server.process.pid) - before
    final, _, _ = await exchange(port, data)
    exit_status = await server.stop()
    assert exit_status == 0, server.log
    counts = {status: statuses.count(status) for status in set(statuses)}
    print("statuses:", counts, "RSS growth KiB:", grown)
    assert set(counts) <= {200, 503, -1}
    assert counts.get(200, 0) >= 256  # every in-flight slot was used
    assert final == 200
    assert grown < 300 * 1024
    lines = (tmp_path / "data" / "export" / "logs.jsonl").read_bytes().count(b"purchase_completed")
    # every 200 was exported; a connection error may or may not have been processed
    assert counts[200] + 1 <= lines <= counts[200] + counts.get(-1, 0) + 1


async def test_slow_loris_headers_get_408_and_the_connection_is_closed(tmp_path: Path) -> None:
    server = await start(tmp_path, body_timeout="1s")
    port = server.ports["sessionvision http"]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /api/v1/ingest/events HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    answer = b""
    for index in range(50):  # one header byte every 0.1 s: the headers never end in time
        writer.write(b"X-Slow: %d\r\n" % index if index % 10 == 9 else b"")
        await writer.drain()
        try:
            answer = await asyncio.wait_for(reader.read(), 0.1)
        except asyncio.TimeoutError:
            continue
        break
    writer.close()
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    idle = await asyncio.wait_for(idle_reader.read(), 5)  # says nothing: closed silently
    idle_writer.close()
    ok, _, _ = await exchange(port, request(TINY))
    exit_status = await server.stop()
    assert exit_status == 0, server.log
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert msgspec.json.decode(body) == {
        "status": 408,
        "error": "request_timeout",
        "message": "headers: not received within 1 seconds",
    }
    assert idle == b""
    assert ok == 200


async def test_endless_headers_get_431_with_bounded_memory(tmp_path: Path) -> None:
    server = await start(tmp_path)
    port = server.ports["sessionvision http"]
    before = rss_kib(server.process.pid)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = asyncio.ensure_future(reader.read())
    writer.write(b"POST /api/v1/ingest/events HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Endless: ")
    sent = 0
    try:
        # One header value of up to 64 MiB, as fast as it goes, until the server answers.
        while sent < 64 << 20 and not answered.done():
            writer.write(b"a" * (1 << 20))
            await writer.drain()
            sent += 1 << 20
            await asyncio.sleep(0.01)  # let the answer in
    except ConnectionError:
        pass  # the server closed before this client noticed its answer
    answer = await asyncio.wait_for(answered, 10)
    writer.close()
    grown = rss_kib(server.process.pid) - before
    # Large but finite headers, and a body arriving with the headers, are still served.
    big_headers = [f"X-Big-{n}: {'b' * 1000}" for n in range(40)]
    ok, _, _ = await exchange(port, request(TINY, *big_headers))
    body = msgspec.json.encode([event_json()] * 400)  # about 150 KiB, in the first write
    ok_body, _, _ = await exchange(port, request(body))
    exit_status = await server.stop()
    assert exit_status == 0, server.log
    head, _, answer_body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert msgspec.json.decode(answer_body) == {
        "status": 431,
        "error": "request_header_fields_too_large",
        "message": "headers: over 65536 bytes",
    }
    assert sent < 64 << 20  # refused long before the client was done
    assert grown < 32 * 1024, f"RSS grew {grown} KiB"
    assert (ok, ok_body) == (200, 200)
