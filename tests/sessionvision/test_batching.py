"""Cutting events into SDK-shaped ingest requests."""

from __future__ import annotations

import gzip
import json
import random

from sv_otel.batch import dump_events, parse_batch
from sv_otel.event import Event
from sv_otel.sessionvision.batching import IngestRequest, build_requests


def _event(session: str, n: int, size: int = 0) -> Event:
    return Event(
        event=f"e{n}",
        timestamp=1_709_856_000_000 + n,
        properties={"pad": "x" * size},
        session_id=session,
    )


def _bodies(requests: list[IngestRequest]) -> list[list[Event]]:
    return [parse_batch(r.body, content_encoding="gzip").events for r in requests]


def test_one_session_per_request_in_order_of_first_appearance() -> None:
    events = [_event("b", 0), _event("a", 1), _event("b", 2), _event("c", 3), _event("a", 4)]
    requests = build_requests(events, max_events=100, max_bytes=10_000)
    assert [r.session_id for r in requests] == ["b", "a", "c"]
    assert _bodies(requests) == [
        [events[0], events[2]],
        [events[1], events[4]],
        [events[3]],
    ]
    assert [r.events for r in requests] == [2, 2, 1]


def test_the_body_is_the_sdk_array_gzipped() -> None:
    events = [_event("s", 0), _event("s", 1)]
    [request] = build_requests(events, max_events=10, max_bytes=10_000)
    data = gzip.decompress(request.body)
    assert data == dump_events(events)
    assert request.json_bytes == len(data)
    assert json.loads(data)[0]["sessionId"] == "s"


def test_a_token_makes_an_envelope() -> None:
    [request] = build_requests([_event("s", 0)], max_events=10, max_bytes=10_000, token="sv_pub_1")
    batch = parse_batch(request.body, content_encoding="gzip")
    assert batch.token == "sv_pub_1"
    assert batch.events == [_event("s", 0)]


def test_max_events_per_request() -> None:
    events = [_event("s", n) for n in range(7)]
    requests = build_requests(events, max_events=3, max_bytes=10_000)
    assert [r.events for r in requests] == [3, 3, 1]
    assert [e for body in _bodies(requests) for e in body] == events


def test_max_bytes_per_request_counts_the_json() -> None:
    events = [_event("s", n, size=100) for n in range(10)]
    one = len(dump_events(events[:1]))
    limit = 3 * one  # three events' JSON, with their commas, stays under three arrays' worth
    requests = build_requests(events, max_events=100, max_bytes=limit)
    assert all(r.json_bytes <= limit for r in requests)
    assert [r.events for r in requests] == [3, 3, 3, 1]
    assert [e for body in _bodies(requests) for e in body] == events


def test_an_event_larger_than_max_bytes_goes_alone() -> None:
    events = [_event("s", 0), _event("s", 1, size=5000), _event("s", 2)]
    requests = build_requests(events, max_events=100, max_bytes=1000)
    assert [r.events for r in requests] == [1, 1, 1]
    assert requests[1].json_bytes > 1000


def test_the_same_events_give_the_same_digest_and_body() -> None:
    events = [_event("s", 0), _event("s", 1)]
    first = build_requests(events, max_events=10, max_bytes=10_000)
    again = build_requests(list(events), max_events=10, max_bytes=10_000)
    other = build_requests(events[:1], max_events=10, max_bytes=10_000)
    assert first == again
    assert first[0].digest != other[0].digest


def test_no_events_no_requests() -> None:
    assert build_requests([], max_events=10, max_bytes=10_000) == []


def test_the_gzip_level_trades_size_for_speed() -> None:
    words = random.Random(3).choices(["cart", "pay", "GET", "/p/", "ok", "EUR", "é"], k=4000)
    events = [
        Event(
            event="$log", timestamp=n, properties={"body": " ".join(words[n::200])}, session_id="s"
        )
        for n in range(200)
    ]
    fast, small = (
        build_requests(events, max_events=500, max_bytes=1 << 20, gzip_level=level)[0]
        for level in (1, 9)
    )
    assert gzip.decompress(fast.body) == gzip.decompress(small.body) == dump_events(events)
    assert len(small.body) < len(fast.body)
    assert fast.digest == small.digest  # the same events: a resend is recognised either way
