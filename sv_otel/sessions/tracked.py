"""The sessions a lifecycle processor tracks in memory, in the two orders its clocks need.

``by_seen`` holds every tracked session least recently active first (for the inactivity
timeout and eviction), ``by_start`` the same sessions oldest first (for the maximum duration),
and ``memory`` their estimated memory together (:mod:`sv_otel.sessions.memory`). A
:class:`~sv_otel.sessions.run.Run` changes the two dicts in place; :meth:`Tracked.merge` takes
in what other processes committed.
"""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter

from sv_otel.sessions.state import SessionState, memory_bytes

__all__ = ["Tracked"]

_SEEN = attrgetter("last_seen_ms")
_STARTED = attrgetter("first_seen_ms")


class Tracked:
    """The tracked sessions, built from the states the store holds.

    Args:
        states: the open sessions, in any order.
    """

    __slots__ = ("by_seen", "by_start", "memory")

    def __init__(self, states: Iterable[SessionState] = ()) -> None:
        states = list(states)
        for state in states:
            state.memory_bytes = memory_bytes(state)
        self.by_seen = {state.session_id: state for state in sorted(states, key=_SEEN)}
        self.by_start = {state.session_id: state for state in sorted(states, key=_STARTED)}
        self.memory = sum(state.memory_bytes for state in states)

    def __len__(self) -> int:
        return len(self.by_seen)

    def merge(self, states: Iterable[SessionState], ended: Iterable[str]) -> None:
        """Take in other processes' changes: drop the ``ended`` ids, then add or replace ``states``.

        A replaced session moves to the end of ``by_seen`` (it was just seen) and keeps its place
        in ``by_start``; a new one joins the end of both, in the order of its times.
        """
        by_seen, by_start = self.by_seen, self.by_start
        for session_id in ended:
            gone = by_seen.pop(session_id, None)
            by_start.pop(session_id, None)
            if gone is not None:
                self.memory -= gone.memory_bytes
        states = list(states)
        for state in sorted(states, key=_SEEN):
            state.memory_bytes = memory_bytes(state)
            replaced = by_seen.pop(state.session_id, None)
            if replaced is not None:
                self.memory -= replaced.memory_bytes
            self.memory += state.memory_bytes
            by_seen[state.session_id] = state
        for state in sorted(states, key=_STARTED):
            by_start[state.session_id] = state
