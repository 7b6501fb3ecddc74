"""The tracked sessions: built in both orders, merged with other processes' changes."""

from __future__ import annotations

from sv_otel.sessions.state import SessionState, memory_bytes
from sv_otel.sessions.tracked import Tracked


def _state(session_id: str, first: int, last: int, **traits: str) -> SessionState:
    return SessionState(
        session_id=session_id, first_seen_ms=first, last_seen_ms=last, traits=dict(traits)
    )


def test_built_least_recently_seen_first_and_oldest_first() -> None:
    tracked = Tracked([_state("b", 5, 30), _state("a", 10, 20), _state("c", 1, 40)])
    assert list(tracked.by_seen) == ["a", "b", "c"]
    assert list(tracked.by_start) == ["c", "b", "a"]
    assert len(tracked) == 3
    states = tracked.by_seen.values()
    assert all(state.memory_bytes == memory_bytes(state) > 0 for state in states)
    assert tracked.memory == sum(memory_bytes(state) for state in states)


def test_merge_drops_the_ended_and_moves_the_replaced_to_the_end() -> None:
    tracked = Tracked([_state("a", 1, 10), _state("b", 2, 20), _state("c", 3, 30)])
    grown = _state("a", 1, 40, plan="a long trait value " * 20)
    tracked.merge([_state("d", 4, 35), grown], ended=["b", "unknown"])
    assert list(tracked.by_seen) == ["c", "d", "a"]
    assert list(tracked.by_start) == ["a", "c", "d"]  # "a" keeps its place, "d" joins the end
    assert tracked.by_seen["a"] is grown
    assert tracked.memory == sum(memory_bytes(state) for state in tracked.by_seen.values())
    assert grown.memory_bytes > memory_bytes(_state("a", 1, 40))


def test_an_empty_merge_changes_nothing() -> None:
    tracked = Tracked([_state("a", 1, 10)])
    before = (list(tracked.by_seen), list(tracked.by_start), tracked.memory)
    tracked.merge([], ended=[])
    assert (list(tracked.by_seen), list(tracked.by_start), tracked.memory) == before
    assert len(Tracked()) == 0
