from __future__ import annotations

import gzip
from typing import Any

import msgspec
import pytest

from sv_otel import (
    Event,
    InvalidBatchError,
    Limits,
    PayloadTooLargeError,
    Rejection,
    SvOtelError,
    UnsupportedEncodingError,
    dump_events,
    parse_batch,
)
from tests.helpers import body, event_json

EXPECTED = Event(
    event="purchase_completed",
    timestamp=1709856000000,
    properties={"amount": 49.99, "$current_url": "https://example.com/checkout"},
    anonymous_id="550e8400-e29b-41d4-a716-446655440000",
    user_id="user_456",
    session_id="a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (body(event_json()), None),
        (gzip.compress(body(event_json())), "gzip"),
        (gzip.compress(body(event_json())), None),  # recognised by its magic bytes
        (gzip.compress(body(event_json())), "identity"),
        (gzip.compress(body(event_json())), " X-GZIP "),
        (msgspec.json.encode({"events": [event_json()]}), None),
        (msgspec.json.encode(event_json()) + b"\n", None),
        (msgspec.json.encode(event_json()), None),
        (b"\n" + msgspec.json.encode([event_json()]) + b"\n\n", None),
    ],
    ids=[
        "array",
        "gzip",
        "gzip-magic",
        "gzip-identity",
        "x-gzip",
        "envelope",
        "line",
        "object",
        "blank",
    ],
)
def test_every_shape_gives_the_event(data: bytes, encoding: str | None) -> None:
    batch = parse_batch(data, content_encoding=encoding)
    assert batch.events == [EXPECTED]
    assert batch.rejected == []


def test_json_lines_mix_events_and_batches() -> None:
    lines = [
        msgspec.json.encode(event_json(event="a")),
        msgspec.json.encode([event_json(event="b"), event_json(event="c")]),
        msgspec.json.encode({"events": [event_json(event="d")]}),
    ]
    batch = parse_batch(b"\n".join(lines))
    assert [event.event for event in batch.events] == ["a", "b", "c", "d"]


def test_envelope_token_is_returned() -> None:
    data = msgspec.json.encode({"events": [event_json()], "token": "sv_pub_1"})
    assert parse_batch(data).token == "sv_pub_1"


def test_optional_fields_default() -> None:
    data = body({"event": "e", "timestamp": 5, "sessionId": "s"})
    assert parse_batch(data).events == [Event(event="e", timestamp=5, session_id="s")]
    data = body({"event": "e", "timestamp": 5, "sessionId": "s", "properties": None})
    assert parse_batch(data).events == [Event(event="e", timestamp=5, session_id="s")]


def test_unknown_event_fields_are_ignored() -> None:
    data = body(event_json(uuid="x", extra={"a": 1}))
    assert parse_batch(data).events == [EXPECTED]


BAD_BODIES: list[tuple[str, bytes, str | None, type[SvOtelError], int, str]] = [
    ("empty", b"", None, InvalidBatchError, 400, "body: empty"),
    ("spaces", b"  \n ", None, InvalidBatchError, 400, "body: empty"),
    ("truncated", b'[{"event": "a",', None, InvalidBatchError, 400,
     "body: not JSON (Input data was truncated)"),
    ("garbage", b"[1, 2, ?]", None, InvalidBatchError, 400,
     "body: not JSON (invalid character (byte 7))"),
    ("string", b'"events"', None, InvalidBatchError, 400,
     'body: expected a JSON array of events or an object with "events", got a string'),
    ("number", b"42", None, InvalidBatchError, 400,
     'body: expected a JSON array of events or an object with "events", got a number'),
    ("null", b"null", None, InvalidBatchError, 400,
     'body: expected a JSON array of events or an object with "events", got null'),
    ("invalid utf-8", b'[{"event": "caf\xe9"}]', None, InvalidBatchError, 400,
     "body: invalid UTF-8 at byte 15"),
    ("nan literal", b"[NaN]", None, InvalidBatchError, 400,
     "body: not JSON (invalid character (byte 1))"),
    ("deep nesting", b"[" * 10_000 + b"]" * 10_000, None, InvalidBatchError, 400,
     "body: JSON nested too deeply"),
    ("events not array", b'{"events": 5}', None, InvalidBatchError, 400,
     "body.events: expected an array of events"),
    ("token not string", b'{"events": [], "token": 5}', None, InvalidBatchError, 400,
     "body.token: expected a string, got int"),
    ("bad line", msgspec.json.encode(event_json()) + b"\n{oops\n", None, InvalidBatchError, 400,
     "line 2: not JSON (object keys must be strings (byte 1))"),
    ("brotli", b"[]", "br", UnsupportedEncodingError, 415,
     "Content-Encoding: unsupported encoding 'br'; use gzip or identity"),
    ("not gzip", b"[]", "gzip", InvalidBatchError, 400,
     "body: invalid gzip data (Error -3 while decompressing data: incorrect header check)"),
    ("truncated gzip", gzip.compress(b"[]" * 1000)[:-12], None, InvalidBatchError, 400,
     "body: truncated gzip stream"),
    ("gzip bomb", gzip.compress(bytes(1 << 30)), "gzip", PayloadTooLargeError, 413,
     "body: decompresses to more than the limit of 10485760 bytes"),
    ("oversized", b" " * (10 * 1024 * 1024 + 1), None, PayloadTooLargeError, 413,
     "body: 10485761 bytes, over the limit of 10485760 bytes"),
    ("too many events", body(*[event_json()] * 10_001), None, PayloadTooLargeError, 413,
     "body: 10001 events, over the limit of 10000 per batch"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "encoding", "error", "status", "message"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_bodies_raise_exact_errors(
    data: bytes, encoding: str | None, error: type[SvOtelError], status: int, message: str
) -> None:
    with pytest.raises(error) as caught:
        parse_batch(data, content_encoding=encoding)
    assert type(caught.value) is error
    assert caught.value.status_hint == status
    assert str(caught.value) == message


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


BAD_EVENTS: list[tuple[str, Any, str]] = [
    ("not an object", 42, "events[1]: expected an object, got 42"),
    ("no event", event_json(event=...),
     "events[1].event: expected a non-empty string, got nothing (the field is missing)"),
    ("empty event", event_json(event=""), 'events[1].event: expected a non-empty string, got ""'),
    ("event number", event_json(event=7), "events[1].event: expected a non-empty string, got 7"),
    ("timestamp text", event_json(timestamp="abc"),
     'events[1].timestamp: expected integer epoch milliseconds, got "abc"'),
    ("timestamp float", event_json(timestamp=1.5),
     "events[1].timestamp: expected integer epoch milliseconds, got 1.5"),
    ("timestamp bool", event_json(timestamp=True),
     "events[1].timestamp: expected integer epoch milliseconds, got true"),
    ("timestamp negative", event_json(timestamp=-1),
     "events[1].timestamp: -1 is outside 0..18446744073709 epoch milliseconds"),
    ("timestamp huge", event_json(timestamp=10**20),
     "events[1].timestamp: 100000000000000000000 is outside 0..18446744073709 epoch milliseconds"),
    ("no session", event_json(sessionId=...),
     "events[1].sessionId: expected a non-empty string, got nothing (the field is missing)"),
    ("null session", event_json(sessionId=None),
     "events[1].sessionId: expected a non-empty string, got null"),
    ("user number", event_json(userId=5), "events[1].userId: expected a string or null, got 5"),
    ("anonymous list", event_json(anonymousId=[]),
     "events[1].anonymousId: expected a string or null, got []"),
    ("properties list", event_json(properties=[1]),
     "events[1].properties: expected an object, got [1]"),
    ("huge int", event_json(properties={"n": 2**64}),
     "events[1].properties.n: integer 18446744073709551616 is outside the signed 64-bit range "
     "that OTLP carries"),
    ("huge nested int", event_json(properties={"a b": [1, {"c": -(2**63) - 1}]}),
     'events[1].properties["a b"][1].c: integer -9223372036854775809 is outside the signed '
     "64-bit range that OTLP carries"),
    ("too deep", event_json(properties={"x": _nested(33)}),
     "events[1].properties.x" + "[0]" * 32 + ": nested deeper than 32 levels"),
    ("long string", event_json(properties={"s": "x" * 65_537}),
     "events[1].properties.s: string longer than 65536 characters (65537)"),
    ("long event", event_json(event="e" * 65_537),
     "events[1].event: longer than 65536 characters (65537)"),
    ("too many properties", event_json(properties={str(i): i for i in range(1001)}),
     "events[1].properties: more than 1000 members (1001)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("bad", "message"), [case[1:] for case in BAD_EVENTS], ids=[case[0] for case in BAD_EVENTS]
)
def test_bad_event_is_rejected_and_neighbours_kept(bad: Any, message: str) -> None:
    batch = parse_batch(body(event_json(event="first"), bad, event_json(event="last")))
    assert [event.event for event in batch.events] == ["first", "last"]
    assert batch.rejected == [Rejection(1, message)]


def test_float_out_of_range_is_rejected_per_event() -> None:
    data = (
        b'[{"event":"a","timestamp":1,"sessionId":"s","properties":{"v":1e400}},'
        + body(event_json())[1:]
    )
    batch = parse_batch(data)
    assert batch.events == [EXPECTED]
    assert batch.rejected == [
        Rejection(0, "events[0].properties.v: number is out of the range of a 64-bit float")
    ]


def _event_text(session: str, value: str) -> bytes:
    return (
        f'{{"event":"a","timestamp":1,"sessionId":"{session}","properties":{{"{value}":"{value}"}}}}'
    ).encode()


@pytest.mark.parametrize(
    ("escaped", "text"),
    [
        ("x\\ud83d", "x\ufffd"),  # an emoji cut after its first half
        ("\\ude00y", "\ufffdy"),  # ... or before its second
        ("\\udfff\\ud800", "\ufffd\ufffd"),  # two halves in the wrong order
        ("\\ud83d\\ude00", "\U0001f600"),  # a whole pair is the emoji
        ("\\\\ud800", "\\ud800"),  # an escaped backslash: the text \ud800, not an escape
    ],
    ids=["high", "low", "reversed", "pair", "backslash"],
)
def test_lone_surrogate_escapes_become_replacement_characters(escaped: str, text: str) -> None:
    # JSON.stringify writes a lone surrogate as an escape; msgspec refuses it, the event stays.
    data = b"[" + _event_text(escaped, escaped) + b"," + body(event_json())[1:]
    batch = parse_batch(data)
    assert batch.rejected == []
    assert batch.events[0].session_id == text
    assert batch.events[0].properties == {text: text}
    assert batch.events[1] == EXPECTED
    assert dump_events(batch.events)  # every string is text now: it encodes


def test_lone_surrogates_are_replaced_next_to_a_number_out_of_range() -> None:
    data = (
        b'[{"event":"a","timestamp":1,"sessionId":"s","properties":{"v":1e400}},'
        + _event_text("s\\ud800", "p")
        + b"]"
    )
    batch = parse_batch(data)
    assert [event.session_id for event in batch.events] == ["s\ufffd"]
    assert batch.rejected == [
        Rejection(0, "events[0].properties.v: number is out of the range of a 64-bit float")
    ]


def test_limits_are_configurable() -> None:
    limits = Limits(max_events=1, max_string_length=3, max_depth=1, max_properties=2)
    with pytest.raises(PayloadTooLargeError):
        parse_batch(body(event_json(), event_json()), limits=limits)
    batch = parse_batch(body({"event": "abcd", "timestamp": 1, "sessionId": "s"}), limits=limits)
    assert batch.rejected == [Rejection(0, "events[0].event: longer than 3 characters (4)")]
    ok = {"event": "e", "timestamp": 1, "sessionId": "s", "properties": {"a": [1]}}
    assert len(parse_batch(body(ok), limits=limits).events) == 1
    deep = {**ok, "properties": {"a": [[1]]}}
    assert parse_batch(body(deep), limits=limits).rejected == [
        Rejection(0, "events[0].properties.a[0]: nested deeper than 1 levels")
    ]


@pytest.mark.parametrize("value", [0, -1, 1.5, "10", None])
def test_limits_reject_bad_settings(value: Any) -> None:
    with pytest.raises(SvOtelError, match=r"Limits.max_events: expected a positive integer"):
        Limits(max_events=value)


def test_dump_events_writes_the_sdk_shape() -> None:
    assert msgspec.json.decode(dump_events([EXPECTED])) == [event_json()]
    assert list(msgspec.json.decode(dump_events(iter([EXPECTED])))[0]) == [
        "event",
        "timestamp",
        "properties",
        "anonymousId",
        "userId",
        "sessionId",
    ]


def test_dump_then_parse_is_identity() -> None:
    events = [EXPECTED, Event(event="x", timestamp=0, session_id="s", properties={"n": None})]
    assert parse_batch(dump_events(events)).events == events
