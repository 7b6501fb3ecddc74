"""IngestClient against a real ingest server on loopback: batching, gzip, retries, failures."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

import sv_otel
from sv_otel.errors import ConfigurationError, PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.sessionvision import IngestClient
from tests.loop_thread import LoopThread
from tests.sessionvision.ingest_server import HANG, running_ingest_server

FAST = (0.01, 0.02, 0.04)


def _events(sessions: int = 2, each: int = 3) -> list[Event]:
    return [
        Event(
            event=f"step_{n}",
            timestamp=1_709_856_000_000 + n,
            properties={"n": n, "$current_url": "https://example.com/"},
            session_id=f"session-{s}",
            user_id="user_456",
        )
        for n in range(each)
        for s in range(sessions)
    ]


def _send(
    loop: LoopThread,
    url: str,
    events: list[Event],
    *,
    timeout: float = 10.0,
    token: str | None = None,
    max_events: int = 500,
) -> None:
    async def send() -> None:
        async with IngestClient(
            url, retry_delays=FAST, timeout=timeout, token=token, max_events=max_events
        ) as client:
            await client.send(events)

    loop.run(send())


def _count(name: str, outcome: str) -> float:
    return REGISTRY.get_sample_value(name, {"outcome": outcome}) or 0.0


def test_posts_sdk_shaped_batches_one_session_each(loop: LoopThread) -> None:
    events = _events(sessions=2, each=3)
    with running_ingest_server(loop) as server:
        _send(loop, server.url, events)
    assert len(server.received) == 2
    for request in server.received:
        assert request.headers["content-type"] == "application/json"
        assert request.headers["content-encoding"] == "gzip"
        assert request.headers["user-agent"].startswith("sv-otel/")
        assert len({e.session_id for e in request.events}) == 1
    assert server.events == [e for e in events if e.session_id == "session-0"] + [
        e for e in events if e.session_id == "session-1"
    ]


def test_public_name_and_token_envelope(loop: LoopThread) -> None:
    assert sv_otel.IngestClient is IngestClient
    with running_ingest_server(loop) as server:
        _send(loop, server.url + "/", _events(1, 2), token="sv_pub_123")
    [request] = server.received
    assert request.token == "sv_pub_123"
    assert request.events == _events(1, 2)


def test_max_events_per_request(loop: LoopThread) -> None:
    events = _events(sessions=1, each=5)
    with running_ingest_server(loop) as server:
        _send(loop, server.url, events, max_events=2)
    assert [len(r.events) for r in server.received] == [2, 2, 1]
    assert server.events == events


def test_500_then_200_is_retried_without_loss(loop: LoopThread) -> None:
    events = _events(sessions=1, each=4)
    retried = _count("sv_otel_sessionvision_requests_total", "retried")
    with running_ingest_server(loop) as server:
        server.plan(500, 502)
        _send(loop, server.url, events)
    assert [r.status for r in server.received] == [500, 502, 200]
    assert server.events == events
    assert _count("sv_otel_sessionvision_requests_total", "retried") == retried + 2


def test_retry_after_is_honoured(loop: LoopThread) -> None:
    with running_ingest_server(loop) as server:
        server.plan((503, {"Retry-After": "0"}))
        _send(loop, server.url, _events(1, 1))
    assert [r.status for r in server.received] == [503, 200]


def test_5xx_after_every_retry_is_retryable(loop: LoopThread) -> None:
    failed = _count("sv_otel_sessionvision_events_total", "failed")
    with running_ingest_server(loop) as server:
        server.plan(500, 500, 500, (503, {"Retry-After": "7"}))
        with pytest.raises(RetryableExportError) as caught:
            _send(loop, server.url, _events(1, 2))
    assert len(server.received) == 4  # the first try and the SDK's three retries
    assert caught.value.retry_after == 7.0
    assert caught.value.message == (
        f"1 of 1 ingest requests (2 events) failed; first: {server.url}/api/v1/ingest/events: "
        'HTTP 503: {"error":"planned failure"}'
    )
    assert _count("sv_otel_sessionvision_events_total", "failed") == failed + 2


@pytest.mark.parametrize("headers", [{}, {"Retry-After": "\u00b2"}], ids=["plain", "odd-hint"])
def test_400_is_permanent_and_not_retried(loop: LoopThread, headers: dict[str, str]) -> None:
    # A Retry-After on a 400 is no reason to retry, even one float() cannot read.
    rejected = _count("sv_otel_sessionvision_events_total", "rejected")
    with running_ingest_server(loop) as server:
        server.plan((400, headers))
        with pytest.raises(PermanentExportError) as caught:
            _send(loop, server.url, _events(2, 1))
    assert sorted(r.status for r in server.received) == [200, 400]
    assert len(server.events) == 1  # the other session's request was delivered
    assert caught.value.message.startswith("1 of 2 ingest requests (1 events) were rejected; ")
    # The error carries the refused events only, for the dead-letter file.
    (refused,) = [r.events for r in server.received if r.status == 400]
    assert caught.value.events == refused
    assert refused[0].session_id != server.events[0].session_id
    assert _count("sv_otel_sessionvision_events_total", "rejected") == rejected + 1


def test_429_is_not_retried_here_but_is_retryable(loop: LoopThread) -> None:
    with running_ingest_server(loop) as server:
        server.plan((429, {"Retry-After": "30"}))
        with pytest.raises(RetryableExportError) as caught:
            _send(loop, server.url, _events(1, 1))
    assert len(server.received) == 1
    assert caught.value.retry_after == 30.0


def test_a_hanging_server_times_out_and_is_retried(loop: LoopThread) -> None:
    events = _events(1, 2)
    with running_ingest_server(loop, hang_seconds=1.0) as server:
        server.plan(HANG)
        _send(loop, server.url, events, timeout=0.2)
    assert [r.status for r in server.received] == [503, 200]
    assert server.events == events


def test_an_unreachable_host_is_retryable(loop: LoopThread) -> None:
    with running_ingest_server(loop) as server:
        url = server.url
    with pytest.raises(RetryableExportError) as caught:
        _send(loop, url, _events(1, 1))
    assert caught.value.message.startswith("1 of 1 ingest requests (1 events) failed; first: ")
    assert "ConnectError" in caught.value.message


def test_no_events_posts_nothing(loop: LoopThread) -> None:
    with running_ingest_server(loop) as server:
        _send(loop, server.url, [])
    assert server.received == []


@pytest.mark.parametrize(
    ("url", "kwargs", "message"),
    [
        (
            "app.sessionvision.com",
            {},
            "ingest host: expected an http(s) URL such as https://app.sessionvision.com, got "
            "'app.sessionvision.com'",
        ),
        ("https://x", {"max_events": 0}, "max_events: expected a positive integer, got 0"),
        ("https://x", {"max_bytes": -1}, "max_bytes: expected a positive integer, got -1"),
        ("https://x", {"timeout": 0.0}, "timeout: expected seconds > 0, got 0.0"),
        ("https://x", {"max_concurrency": 0}, "max_concurrency: expected >= 1, got 0"),
        ("https://x", {"gzip_level": 10}, "gzip_level: expected 1 to 9, got 10"),
        ("https://x", {"max_sessions": 0}, "max_sessions: expected a positive integer, got 0"),
    ],
)
def test_bad_settings(url: str, kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        IngestClient(
            url,
            max_events=int(kwargs.get("max_events", 1)),
            max_bytes=int(kwargs.get("max_bytes", 1)),
            timeout=kwargs.get("timeout", 1.0),
            max_concurrency=int(kwargs.get("max_concurrency", 1)),
            gzip_level=int(kwargs.get("gzip_level", 1)),
            max_sessions=int(kwargs.get("max_sessions", 1)),
        )
    assert caught.value.message == message
