"""What sv_otel keeps about one session, and how each event updates it.

:class:`SessionState` holds the aggregates of a session; :func:`observe` folds one event into it.
The rules, all in the tables below:

* **times**: ``started_at`` / ``last_active_at`` are the earliest and latest event timestamps
  (the browser's clock). ``active_length`` adds the gap between an event and the latest (or
  earliest) one before it when the gap is at most ``idle_gap_ms``; longer gaps are idle time.
  This is exact for events that arrive in order; an event older than the latest one but newer
  than the earliest adds nothing.
* **counts**: every event counts in ``events_count``; :data:`ERROR_EVENTS` also in
  ``errors_count``, :data:`PAGE_EVENTS` also in ``pages_count``.
* **identity**: the latest ``userId`` and ``anonymousId`` seen.
* **identify traits** (``user_object``): the ``$set`` object and the custom (non-``$``)
  properties of ``$identify`` events, less the registered properties they repeat.
* **registered properties**: custom properties found on the SDK's automatic events (names
  starting with ``$``, other than :data:`NOT_AUTOMATIC`). Automatic events carry no custom
  properties of their own, so what they carry came from ``register()`` / ``registerOnce()``.
* **metadata**: the string properties of ``$start`` events (from the OpenReplay-style start
  endpoint, :mod:`sv_otel.sessions.start`).
* **user agent, language, app version, environment, SDK version, browser, OS, device**: the
  latest non-empty string among the keys of :data:`SUMMARY_SOURCES`.
* **linked traces**: the ``trace_id`` property of backend events (``$span``, ``$log``,
  ``$exception``...), when it is not the session's own trace id.

State is bounded: at most :data:`MAX_ENTRIES` traits, registered properties and metadata entries
each (later keys are dropped), values up to :data:`MAX_VALUE_CHARS` characters (as JSON), about
8 KB of memory for the three together (:mod:`sv_otel.sessions.memory`; an entry that would go
past it is dropped, and a new value that would take an entry past it leaves the entry as it
was), and at most :data:`MAX_TRACE_IDS` linked trace ids. ``SessionState.memory_bytes``
estimates what the session takes: :func:`observe` keeps it up to date, :func:`memory_bytes`
computes it afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import msgspec

from sv_otel.event import Event, JSONValue
from sv_otel.ids import session_trace_id
from sv_otel.sessions.memory import (
    BASE_BYTES,
    MAX_PROPERTIES_BYTES,
    TRACE_ID_BYTES,
    entry_bytes,
    text_bytes,
)

__all__ = [
    "ERROR_EVENTS",
    "IDENTIFY_EVENT",
    "LIFECYCLE_EVENTS",
    "MAX_ENTRIES",
    "MAX_TRACE_IDS",
    "MAX_VALUE_CHARS",
    "NOT_AUTOMATIC",
    "PAGE_EVENTS",
    "SESSION_END",
    "SESSION_START",
    "START_EVENT",
    "SUMMARY_SOURCES",
    "SessionState",
    "decode_state",
    "encode_state",
    "memory_bytes",
    "new_state",
    "observe",
]

SESSION_START: Final = "session.start"
SESSION_END: Final = "session.end"
LIFECYCLE_EVENTS: Final = frozenset({SESSION_START, SESSION_END})
"""The events sv_otel emits; seen again (a replayed batch), they change nothing."""

START_EVENT: Final = "$start"
"""The event of an OpenReplay-style start call: its string properties are the session metadata."""

IDENTIFY_EVENT: Final = "$identify"
PAGE_EVENTS: Final = frozenset({"$pageview"})
ERROR_EVENTS: Final = frozenset({"$exception", "$error"})
NOT_AUTOMATIC: Final = frozenset(
    {IDENTIFY_EVENT, START_EVENT, "$set", "$span", "$log", "$exception", "$error"}
)
"""``$`` events that carry properties of their own, so are not read for registered properties."""

SUMMARY_SOURCES: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "user_agent": ("$user_agent", "$raw_user_agent", "$useragent"),
        "language": ("$language", "$browser_language", "$locale"),
        "app_version": ("app_version", "$app_version"),
        "environment": ("environment", "$environment"),
        "client_version": ("$lib_version", "$sdk_version"),
        "browser": ("$browser",),
        "os": ("$os",),
        "device_type": ("$device_type",),
    }
)
"""Summary field -> the event properties it is read from, in order of preference."""

_SOURCE_OF: Final = {
    key: (field, rank) for field, keys in SUMMARY_SOURCES.items() for rank, key in enumerate(keys)
}
_WORST: Final = (len(_SOURCE_OF), "")

MAX_ENTRIES: Final = 64
MAX_VALUE_CHARS: Final = 1024
MAX_TRACE_IDS: Final = 64
_TEXT_FIELDS: Final = (
    "session_id",
    "user_id",
    "anonymous_id",
    "previous_id",
    *SUMMARY_SOURCES,
)

_HEX: Final = frozenset("0123456789abcdef")
_ABSENT: JSONValue = object()


class SessionState(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The aggregates of one session (see the module docstring for how each is kept).

    ``first_seen_ms`` / ``last_seen_ms`` are the server's clock (they drive the inactivity
    timeout and the maximum duration); every other time is the browser's.
    """

    session_id: str
    first_seen_ms: int
    last_seen_ms: int
    started_at: int = 0
    last_active_at: int = 0
    active_length: int = 0
    events_count: int = 0
    errors_count: int = 0
    pages_count: int = 0
    user_id: str | None = None
    anonymous_id: str | None = None
    previous_id: str | None = None
    user_agent: str | None = None
    language: str | None = None
    app_version: str | None = None
    environment: str | None = None
    client_version: str | None = None
    browser: str | None = None
    os: str | None = None
    device_type: str | None = None
    traits: dict[str, JSONValue] = {}
    registered: dict[str, JSONValue] = {}
    metadata: dict[str, str] = {}
    trace_ids: list[str] = []
    recorded: int = 0
    properties_bytes: int = 0
    """The estimated memory of ``traits``, ``registered`` and ``metadata``."""
    memory_bytes: int = 0
    """The estimated memory of the whole session (:func:`memory_bytes`)."""


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(SessionState)
_JSON = msgspec.json.Encoder()


def new_state(event: Event, now_ms: int, previous_id: str | None) -> SessionState:
    """Return the state of a session whose first event is ``event`` (not yet observed)."""
    state = SessionState(
        session_id=event.session_id,
        first_seen_ms=now_ms,
        last_seen_ms=now_ms,
        started_at=event.timestamp,
        last_active_at=event.timestamp,
        previous_id=previous_id,
    )
    state.memory_bytes = memory_bytes(state)
    return state


def memory_bytes(state: SessionState) -> int:
    """Estimate the memory ``state`` takes, from scratch (also recounting its properties)."""
    properties = 0
    for entries in (state.traits, state.registered, state.metadata):
        for key, value in entries.items():
            properties += entry_bytes(key, value, MAX_VALUE_CHARS)
    state.properties_bytes = properties
    return (
        BASE_BYTES
        + properties
        + sum(text_bytes(getattr(state, name)) for name in _TEXT_FIELDS)
        + TRACE_ID_BYTES * len(state.trace_ids)
    )


def observe(state: SessionState, event: Event, now_ms: int, idle_gap_ms: int) -> None:
    """Fold ``event`` into ``state`` (see the module docstring)."""
    ts = event.timestamp
    if state.events_count == 0:
        state.started_at = state.last_active_at = ts
    elif ts > state.last_active_at:
        if ts - state.last_active_at <= idle_gap_ms:
            state.active_length += ts - state.last_active_at
        state.last_active_at = ts
    elif ts < state.started_at:
        if state.started_at - ts <= idle_gap_ms:
            state.active_length += state.started_at - ts
        state.started_at = ts
    state.events_count += 1
    state.last_seen_ms = max(state.last_seen_ms, now_ms)
    name = event.event
    if name in ERROR_EVENTS:
        state.errors_count += 1
    if name in PAGE_EVENTS:
        state.pages_count += 1
    if event.user_id is not None and event.user_id != state.user_id:
        state.memory_bytes += text_bytes(event.user_id) - text_bytes(state.user_id)
        state.user_id = event.user_id
    if event.anonymous_id is not None and event.anonymous_id != state.anonymous_id:
        state.memory_bytes += text_bytes(event.anonymous_id) - text_bytes(state.anonymous_id)
        state.anonymous_id = event.anonymous_id
    props = event.properties
    if not props:
        return
    best: dict[str, tuple[int, str]] | None = None
    for key, value in props.items():
        source = _SOURCE_OF.get(key)
        if source is not None and type(value) is str and value:
            field, rank = source
            if best is None:
                best = {}
            if rank < best.get(field, _WORST)[0]:
                best[field] = (rank, value)
    if best is not None:
        for field, (_, value) in best.items():
            kept = value[:MAX_VALUE_CHARS]
            state.memory_bytes += text_bytes(kept) - text_bytes(getattr(state, field))
            setattr(state, field, kept)
    if name.startswith("$"):
        _observe_special(state, name, props)
    trace_id = props.get("trace_id")
    if type(trace_id) is str:
        _link_trace(state, trace_id)


def encode_state(state: SessionState) -> bytes:
    """Serialise ``state`` for the state database (MessagePack)."""
    return _ENCODER.encode(state)


def decode_state(data: bytes) -> SessionState:
    """Read back what :func:`encode_state` wrote."""
    return _DECODER.decode(data)


def _observe_special(state: SessionState, name: str, props: dict[str, JSONValue]) -> None:
    if name == IDENTIFY_EVENT:
        extra = props.get("$set")
        if type(extra) is dict:
            for key, value in extra.items():
                _put(state, state.traits, key, value)
        registered = state.registered
        for key, value in props.items():
            if not key.startswith("$") and registered.get(key, _ABSENT) != value:
                _put(state, state.traits, key, value)
    elif name == START_EVENT:
        for key, value in props.items():
            if not key.startswith("$") and type(value) is str:
                _put(state, state.metadata, key, value)
    elif name not in NOT_AUTOMATIC:
        for key, value in props.items():
            if not key.startswith("$"):
                _put(state, state.registered, key, value)


def _put(state: SessionState, target: dict[str, JSONValue], key: str, value: JSONValue) -> None:
    old = target.get(key, _ABSENT)
    if old is _ABSENT:
        if len(target) >= MAX_ENTRIES or len(key) > MAX_VALUE_CHARS:
            return
        freed = 0
    elif old == value:
        return
    else:
        freed = entry_bytes(key, old, MAX_VALUE_CHARS)
    size = entry_bytes(key, value, MAX_VALUE_CHARS)
    if size < 0:
        return
    stored = state.properties_bytes - freed + size
    if stored > MAX_PROPERTIES_BYTES:
        return
    target[key] = value
    state.memory_bytes += stored - state.properties_bytes
    state.properties_bytes = stored


def _link_trace(state: SessionState, trace_id: str) -> None:
    if len(trace_id) != 32 or not _HEX.issuperset(trace_id) or trace_id == "0" * 32:
        return
    if trace_id in state.trace_ids or len(state.trace_ids) >= MAX_TRACE_IDS:
        return
    if trace_id == session_trace_id(state.session_id).hex():
        return
    state.trace_ids.append(trace_id)
    state.memory_bytes += TRACE_ID_BYTES
