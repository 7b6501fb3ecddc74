"""Warnings a client can cause reach the log at most once per interval, with a count of the rest."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from sv_otel.server.log_limits import CLIENT_WARNINGS, RepeatedWarnings, limit_client_warnings
from sv_otel.server.sockets import HttpServer, bind_socket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def record(message: str) -> logging.LogRecord:
    return logging.LogRecord("uvicorn.error", logging.WARNING, __file__, 1, message, None, None)


def test_a_repeated_warning_passes_once_per_interval_then_counts_what_was_left_out() -> None:
    clock = Clock()
    limit = RepeatedWarnings({"Invalid HTTP request received."}, interval=60, clock=clock)
    passed = [limit.filter(record("Invalid HTTP request received.")) for _ in range(5)]
    assert passed == [True, False, False, False, False]
    clock.now += 59.9
    assert not limit.filter(record("Invalid HTTP request received."))
    clock.now += 0.2
    late = record("Invalid HTTP request received.")
    assert limit.filter(late)
    assert late.getMessage() == (
        "Invalid HTTP request received. (5 more since the previous one, not logged)"
    )
    clock.now += 61
    quiet = record("Invalid HTTP request received.")
    assert limit.filter(quiet)
    assert quiet.getMessage() == "Invalid HTTP request received."


def test_other_messages_and_each_limited_message_on_its_own() -> None:
    limit = RepeatedWarnings(CLIENT_WARNINGS, interval=60, clock=Clock())
    assert limit.filter(record("Invalid HTTP request received."))
    assert limit.filter(record("Unsupported upgrade request."))
    assert not limit.filter(record("Unsupported upgrade request."))
    assert all(limit.filter(record("Shutting down")) for _ in range(3))


def test_installed_once_on_uvicorns_logger() -> None:
    first = limit_client_warnings()
    assert limit_client_warnings() is first
    filters = logging.getLogger("uvicorn.error").filters
    assert [f for f in filters if isinstance(f, RepeatedWarnings)] == [first]


@pytest.mark.anyio
async def test_a_client_sending_garbage_in_a_loop_leaves_at_most_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        raise AssertionError("a malformed request never reaches the app")

    server = HttpServer(app, bind_socket("127.0.0.1", 0, reuse_port=False))
    await server.start()

    def garbage() -> list[bytes]:
        answers = []
        for _ in range(20):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(b"\x00\x01 not http at all\r\n\r\n")
                answers.append(sock.recv(12))
        return answers

    try:
        with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
            answers = await asyncio.to_thread(garbage)
    finally:
        await server.shutdown()
    assert answers == [b"HTTP/1.1 400"] * 20
    warnings = [r for r in caplog.records if r.getMessage().startswith("Invalid HTTP request")]
    # One, or none when an earlier test of this process logged it within the minute.
    assert len(warnings) <= 1
