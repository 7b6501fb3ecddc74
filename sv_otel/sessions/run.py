"""What one processor call does to the sessions: start them, end them, remember their visitors.

Each call of :class:`~sv_otel.sessions.lifecycle.SessionLifecycleProcessor` (``process``,
``poll``, ``shutdown``) makes a :class:`Run` over the sessions it tracks. The run emits
``session.start`` before a session's first event (with ``session.previous_id`` found through the
identities of :func:`identities_of`, and the metadata of a ``$start`` event) and ``session.end``
(summary attributes, see :mod:`sv_otel.sessions.summary`) for every session it ends: timed out,
past its maximum duration, evicted, or ended by the processor. It collects what the processor
then writes: the state changes (:class:`~sv_otel.sessions.store.Changes`), the Highlight
documents and the recorded events.

A run does no I/O: what the store knows about a batch's new sessions comes in as :class:`Known`,
and the processor commits the run, or drops it and reloads its sessions from the store.
"""

from __future__ import annotations

from typing import Final

import msgspec

from sv_otel.attributes import SESSION_PREVIOUS_ID
from sv_otel.event import Event
from sv_otel.sessions.config import SessionConfig
from sv_otel.sessions.state import (
    LIFECYCLE_EVENTS,
    SESSION_END,
    SESSION_START,
    START_EVENT,
    SessionState,
    new_state,
    observe,
)
from sv_otel.sessions.store import Changes
from sv_otel.sessions.summary import end_properties, highlight_document

__all__ = ["MAX_ID_CHARS", "Known", "Run", "identities_of", "tracked"]

MAX_ID_CHARS: Final = 256
"""The longest session, user or anonymous id the processor keeps state for.

Browser SDKs make UUIDs (36 characters) and user ids are ids or e-mail addresses; ids are bounded
only by the batch limits (64 KiB), and every tracked session, ended session and visitor is a row
on disk. A session with a longer id is not tracked (its events pass through with no lifecycle
events), and a longer user or anonymous id links no sessions."""

_JSON: Final = msgspec.json.Encoder()


class Known:
    """What the store said about a batch's new sessions: ended ids and identities' last sessions."""

    __slots__ = ("ended", "last")

    def __init__(self, ended: set[str], last: dict[str, str]) -> None:
        self.ended = ended
        self.last = last


class Run:
    """The work of one processor call: output events, changes to commit, lines to write.

    ``by_seen`` and ``by_start`` are the processor's tracked sessions (least recently seen
    first, oldest first); the run updates them in place as it starts and ends sessions, and
    keeps ``memory``, their estimated memory together, up to date.
    """

    __slots__ = (
        "by_seen",
        "by_start",
        "changes",
        "config",
        "idle_gap_ms",
        "longest_ms",
        "max_memory",
        "max_sessions",
        "memory",
        "out",
        "record_events",
        "recorded",
        "summaries",
        "timeout_ms",
    )

    def __init__(
        self,
        config: SessionConfig,
        by_seen: dict[str, SessionState],
        by_start: dict[str, SessionState],
        memory: int,
    ) -> None:
        self.config = config
        self.by_seen = by_seen
        self.by_start = by_start
        self.idle_gap_ms = config.idle_gap_ms
        self.timeout_ms = config.inactivity_timeout_ms
        self.longest_ms = config.max_duration_ms
        self.max_sessions = config.max_sessions
        self.max_memory = config.max_memory_bytes
        self.memory = memory
        self.record_events = config.record_events
        self.out: list[Event] = []
        self.changes = Changes()
        self.summaries: list[bytes] = []
        self.recorded: list[bytes] = []

    def add(self, event: Event, now_ms: int, known: Known) -> None:
        """Track ``event``: end its session if it expired, start it if new, then count it."""
        session_id = event.session_id
        if not tracked(event):
            self.out.append(event)
            return
        state = self.by_seen.get(session_id)
        if state is not None and (
            now_ms - state.last_seen_ms >= self.timeout_ms
            or now_ms - state.first_seen_ms >= self.longest_ms
        ):
            expired = now_ms - state.first_seen_ms >= self.longest_ms
            self.end(state, "max_duration" if expired else "timeout")
            state = None
        if state is None:
            if session_id in known.ended or session_id in self.changes.ended:
                self.out.append(event)  # a late event of an ended session
                return
            state = self._start(event, now_ms, known)
        else:
            # Keep by_seen ordered by last activity: move the session to the end.
            del self.by_seen[session_id]
            self.by_seen[session_id] = state
        if event.user_id != state.user_id:  # identified mid-session
            identity = _identity("u", event.user_id)
            if identity is not None:
                self._remember(identity, session_id, known)
        before = state.memory_bytes
        observe(state, event, now_ms, self.idle_gap_ms)
        self.memory += state.memory_bytes - before
        self.changes.upserted[session_id] = state
        self.out.append(event)
        if state.recorded < self.record_events:
            state.recorded += 1
            self.recorded.append(_JSON.encode(event))
        if len(self.by_seen) > self.max_sessions:
            self.end(next(iter(self.by_seen.values())), "evicted")
        # This session is the most recently seen, so it is the last to go.
        while self.memory > self.max_memory and len(self.by_seen) > 1:
            self.end(next(iter(self.by_seen.values())), "evicted")

    def end(self, state: SessionState, reason: str) -> None:
        """End ``state``'s session: emit ``session.end``, write its summary, forget it."""
        del self.by_seen[state.session_id]
        del self.by_start[state.session_id]
        self.memory -= state.memory_bytes
        self.changes.ended[state.session_id] = None
        end = Event(
            event=SESSION_END,
            timestamp=state.last_active_at,
            properties=end_properties(state, reason),
            anonymous_id=state.anonymous_id,
            user_id=state.user_id,
            session_id=state.session_id,
        )
        self.out.append(end)
        self.summaries.append(
            _JSON.encode(highlight_document(state, self.config, end_reason=reason))
        )
        if self.record_events:
            self.recorded.append(_JSON.encode(end))

    def _start(self, event: Event, now_ms: int, known: Known) -> SessionState:
        previous = None
        identities = identities_of(event)
        for identity in identities:
            candidate = self.changes.identities.get(identity) or known.last.get(identity)
            if candidate is not None and candidate != event.session_id:
                previous = candidate
                break
        for identity in identities:
            self._remember(identity, event.session_id, known)
        state = new_state(event, now_ms, previous)
        self.by_seen[event.session_id] = state
        self.by_start[event.session_id] = state
        self.memory += state.memory_bytes
        props = {}
        if event.event == START_EVENT:
            props = {k: v for k, v in event.properties.items() if type(v) is str and k[:1] != "$"}
        if previous is not None:
            props[SESSION_PREVIOUS_ID] = previous
        start = Event(
            event=SESSION_START,
            timestamp=event.timestamp,
            properties=props,
            anonymous_id=event.anonymous_id,
            user_id=event.user_id,
            session_id=event.session_id,
        )
        self.out.append(start)
        if self.record_events:
            self.recorded.append(_JSON.encode(start))
        return state

    def _remember(self, identity: str, session_id: str, known: Known) -> None:
        current = self.changes.identities.get(identity) or known.last.get(identity)
        if current != session_id:
            self.changes.identities[identity] = session_id
            known.last[identity] = session_id


def tracked(event: Event) -> bool:
    """Whether ``event`` belongs to a session the processor keeps state for.

    Lifecycle events do not (they pass through), nor do events of ids past :data:`MAX_ID_CHARS`.
    """
    return event.event not in LIFECYCLE_EVENTS and len(event.session_id) <= MAX_ID_CHARS


def identities_of(event: Event) -> list[str]:
    """The identities of ``event`` in order of preference: user id, then anonymous id.

    Ids longer than :data:`MAX_ID_CHARS` are left out.
    """
    found = (_identity("u", event.user_id), _identity("a", event.anonymous_id))
    return [identity for identity in found if identity is not None]


def _identity(kind: str, value: str | None) -> str | None:
    """The key by which a user (``u``) or anonymous (``a``) id links sessions, if it links any."""
    if value is None or len(value) > MAX_ID_CHARS:
        return None
    return f"{kind}:{value}"
