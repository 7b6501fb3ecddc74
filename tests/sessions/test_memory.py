"""The memory estimates that bound one session's state and all the tracked sessions together."""

from __future__ import annotations

import gc
import tracemalloc
from collections.abc import Callable
from typing import Any

import pytest

from sv_otel import Event
from sv_otel.sessions.memory import CONTAINER_BYTES, ENTRY_BYTES, entry_bytes, text_bytes
from sv_otel.sessions.state import SessionState, new_state, observe
from tests.sessions._helpers import ev


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("k", "abc", 1 + 3 + ENTRY_BYTES),
        ("k", "é日", 1 + 2 * 4 + ENTRY_BYTES),  # not ASCII: four bytes a character
        ("ключ", 1, 4 * 4 + 8 + ENTRY_BYTES),
        ("k", None, 1 + 8 + ENTRY_BYTES),
        ("k", 2.5, 1 + 8 + ENTRY_BYTES),
        ("k", [[], {}], 1 + len("[[],{}]") + ENTRY_BYTES + 3 * CONTAINER_BYTES),
        ("k", {"a": "b"}, 1 + len('{"a":"b"}') + ENTRY_BYTES + CONTAINER_BYTES),
    ],
)
def test_entry_bytes(key: str, value: Any, expected: int) -> None:
    assert entry_bytes(key, value, max_chars=100) == expected


def test_a_value_over_the_limit_counts_as_minus_one() -> None:
    assert entry_bytes("k", "x" * 11, max_chars=10) == -1
    assert entry_bytes("k", ["x" * 8], max_chars=10) == -1  # ["xxxxxxxx"] is 12 characters
    assert entry_bytes("k", "x" * 10, max_chars=10) == 1 + 10 + ENTRY_BYTES


def test_text_bytes() -> None:
    assert text_bytes(None) == 0
    assert text_bytes("abc") == 3
    assert text_bytes("\U0001f600") == 4


Shape = Callable[[str, int], list[Event]]


def _big_strings(sid: str, i: int) -> list[Event]:
    props = {f"key-{k:02d}-{'k' * 30}": f"{k}-{i}-" + "x" * 1000 for k in range(64)}
    return [ev(name, sid=sid, **props) for name in ("$identify", "$pageview", "$start")]


def _many_small(sid: str, i: int) -> list[Event]:
    props = {f"k{k}": f"v{k}-{i}-" + "y" * 20 for k in range(64)}
    return [ev(name, sid=sid, **props) for name in ("$identify", "$pageview", "$start")]


def _not_ascii(sid: str, i: int) -> list[Event]:
    props = {f"k{k}": f"{i}" + "\U0001f600" * 1000 for k in range(64)}
    return [ev(name, sid=sid, **props) for name in ("$identify", "$pageview", "$start")]


def _nested(sid: str, i: int) -> list[Event]:
    props: dict[str, Any] = {f"k{k}": [[i, k], {"a": [i]}, []] for k in range(64)}
    return [ev(name, sid=sid, **props) for name in ("$identify", "$pageview")]


def _summary_fields(sid: str, i: int) -> list[Event]:
    fields = ("user_agent", "language", "lib_version", "browser", "os", "device_type")
    props = {f"dollar_{name}": f"{i}" + "\U0001f600" * 1023 for name in fields}
    return [ev("$pageview", sid=sid, app_version=f"{i}" + "v" * 1023, **props)]


def _ordinary(sid: str, i: int) -> list[Event]:
    props = {
        "dollar_current_url": "https://shop.example.com/cart",
        "dollar_user_agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
        "plan": "pro",
    }
    return [ev("$pageview", sid=sid, user=f"user-{i}", **props) for _ in range(5)]


def _track(shape: Shape, count: int) -> list[SessionState]:
    states = []
    for i in range(count):
        sid = f"s{i:04d}"
        events = shape(sid, i)
        state = new_state(events[0], now_ms=0, previous_id=None)
        for event in events:
            observe(state, event, now_ms=0, idle_gap_ms=60_000)
        states.append(state)
    return states


@pytest.mark.parametrize(
    "shape", [_big_strings, _many_small, _not_ascii, _nested, _summary_fields, _ordinary]
)
def test_the_estimate_follows_what_python_allocates(shape: Shape) -> None:
    count = 100
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        states = _track(shape, count)  # the events are gone once it returns
        gc.collect()
        measured = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    estimated = sum(state.memory_bytes for state in states) / count
    assert 0.75 <= estimated / measured <= 1.6, (estimated, measured)
