"""The per-session aggregation rules and their bounds."""

from __future__ import annotations

from typing import Any

from sv_otel import Event
from sv_otel.ids import session_trace_id
from sv_otel.sessions.memory import MAX_PROPERTIES_BYTES
from sv_otel.sessions.state import (
    MAX_ENTRIES,
    MAX_TRACE_IDS,
    MAX_VALUE_CHARS,
    SessionState,
    decode_state,
    encode_state,
    memory_bytes,
    new_state,
    observe,
)
from tests.sessions._helpers import T0, ev

GAP = 60_000


def _state(*events: Event) -> SessionState:
    state = new_state(events[0], now_ms=0, previous_id=None)
    for event in events:
        observe(state, event, now_ms=0, idle_gap_ms=GAP)
    return state


def test_active_length_counts_gaps_up_to_the_idle_gap_only() -> None:
    state = _state(
        ev("$click", T0),
        ev("$click", T0 + GAP),  # exactly the gap: active
        ev("$click", T0 + 2 * GAP + 1),  # one more: idle
        ev("$click", T0 + 30_000),  # out of order, inside: adds nothing
        ev("$click", T0 - 1_000),  # before the start: extends it
    )
    assert (state.started_at, state.last_active_at) == (T0 - 1_000, T0 + 2 * GAP + 1)
    assert state.active_length == GAP + 1_000
    assert state.events_count == 5


def test_counts_and_latest_identity() -> None:
    state = _state(
        ev("$pageview", anon="a1"),
        ev("$error", anon=None, user="u1"),
        ev("$exception", anon="a2"),
        ev("$pageview", anon=None, user=None),
    )
    assert (state.pages_count, state.errors_count) == (2, 2)
    assert (state.user_id, state.anonymous_id) == ("u1", "a2")


def test_summary_strings_prefer_the_first_listed_key_and_keep_the_latest() -> None:
    state = _state(
        ev("$pageview", dollar_raw_user_agent="raw", dollar_user_agent="preferred"),
        ev("$click", dollar_raw_user_agent="only raw", dollar_locale="de", dollar_language=""),
    )
    assert (state.user_agent, state.language) == ("only raw", "de")
    state = _state(ev("$click", dollar_user_agent="u" * (MAX_VALUE_CHARS + 5)))
    assert state.user_agent == "u" * MAX_VALUE_CHARS


def test_registered_properties_come_from_automatic_events_only() -> None:
    state = _state(
        ev("$pageview", app_version="2.1.0", dollar_current_url="https://x/"),
        ev("purchase_completed", amount=3),  # a custom event: its own properties
        ev("$span", name="GET /"),  # backend event
        ev("$exception", message="boom"),
        ev("$click", app_version="2.2.0"),  # register() overwrote it
    )
    assert state.registered == {"app_version": "2.2.0"}


def test_identify_traits_skip_what_is_registered() -> None:
    state = _state(
        ev("$pageview", plan="free"),
        ev("$identify", user="u1", plan="free", email="a@b.c", dollar_set={"name": "A"}),
        ev("$identify", user="u1", dollar_set="not an object", email="new@b.c"),
    )
    assert state.traits == {"name": "A", "email": "new@b.c"}


def test_metadata_comes_from_start_events_as_strings() -> None:
    state = _state(ev("$start", tenant="acme", count=3, dollar_continued=True))
    assert state.metadata == {"tenant": "acme"}


def test_entries_are_bounded_in_number_and_size() -> None:
    many: dict[str, Any] = {f"k{i}": i for i in range(MAX_ENTRIES + 10)}
    state = _state(
        ev("$pageview", **many),
        ev("$pageview", k0="changed", big="x" * (MAX_VALUE_CHARS + 1)),
        ev("$pageview", nested={"list": ["y" * MAX_VALUE_CHARS]}),
    )
    assert len(state.registered) == MAX_ENTRIES
    assert state.registered["k0"] == "changed"  # existing keys still update
    assert "big" not in state.registered and "nested" not in state.registered


def test_traits_registered_and_metadata_share_one_memory_budget() -> None:
    big = {f"k{i}": f"{i}" + "x" * 1000 for i in range(20)}
    state = _state(ev("$identify", **big), ev("$pageview", **big), ev("$start", **big))
    assert 0 < state.properties_bytes <= MAX_PROPERTIES_BYTES
    kept = len(state.traits) + len(state.registered) + len(state.metadata)
    assert kept == 7  # about 1.1 KB each: the rest did not fit
    assert state.traits and not state.registered and not state.metadata
    # A new value that does not fit leaves the entry as it was; one that fits replaces it.
    observe(state, ev("$identify", k0="é" * 1000), now_ms=0, idle_gap_ms=GAP)  # 4 KB
    assert state.traits["k0"] == "0" + "x" * 1000
    observe(state, ev("$identify", k0="short"), now_ms=0, idle_gap_ms=GAP)
    assert state.traits["k0"] == "short"
    assert state.properties_bytes <= MAX_PROPERTIES_BYTES


def test_the_memory_estimate_is_kept_up_to_date_and_bounded() -> None:
    hostile = {f"k{i}": "\U0001f600" * MAX_VALUE_CHARS for i in range(MAX_ENTRIES)}
    summary = {f"dollar_{name}": "\U0001f600" * 5000 for name in ("user_agent", "os", "browser")}
    events = [
        ev("$pageview", user="u" * 300, anon="a" * 300, **summary, **hostile),
        ev("$identify", user="u2", nested=[[[]] * 100], **hostile),
        ev("$start", **{k: "m" * MAX_VALUE_CHARS for k in hostile}),
        *[ev("$span", trace_id=f"{i:032x}") for i in range(1, 2 * MAX_TRACE_IDS)],
        ev("$pageview", dollar_user_agent="short", dollar_os="Linux"),
    ]
    state = new_state(events[0], now_ms=0, previous_id=None)
    for event in events:
        observe(state, event, now_ms=0, idle_gap_ms=GAP)
        kept, properties = state.memory_bytes, state.properties_bytes
        assert memory_bytes(state) == kept  # from scratch: the same
        assert state.properties_bytes == properties
    assert kept < 50_000


def test_linked_trace_ids_are_checked_deduplicated_and_bounded() -> None:
    own = session_trace_id("s1").hex()
    traces = [f"{i:032x}" for i in range(1, MAX_TRACE_IDS + 5)]
    state = _state(
        ev("$span", trace_id=traces[0]),
        ev("$span", trace_id=traces[0]),
        ev("$span", trace_id=own),
        ev("$span", trace_id="0" * 32),
        ev("$span", trace_id="XYZ"),
        ev("$span", trace_id=traces[0].upper()),
        *[ev("$span", trace_id=t) for t in traces[1:]],
    )
    assert state.trace_ids == traces[:MAX_TRACE_IDS]


def test_state_survives_encoding() -> None:
    state = _state(ev("$identify", user="u1", email="a@b.c"), ev("$span", trace_id="ab" * 16))
    assert decode_state(encode_state(state)) == state
