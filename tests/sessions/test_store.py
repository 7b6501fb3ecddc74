"""The state database: bounded tables, settings, read-only reading."""

from __future__ import annotations

from pathlib import Path

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.sessions.state import SessionState
from sv_otel.sessions.store import Changes, SessionStore, read_states


def _state(session_id: str, seen: int) -> SessionState:
    return SessionState(session_id=session_id, first_seen_ms=seen, last_seen_ms=seen)


def test_ended_ids_and_identities_are_bounded_oldest_first(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, max_ended=3, max_identities=2)
    for number in range(5):
        store.commit(Changes(ended={f"s{number}": None}, identities={f"a:{number}": f"s{number}"}))
    assert store.ended([f"s{n}" for n in range(5)]) == {"s2", "s3", "s4"}
    assert store.last_sessions(["a:0", "a:3", "a:4"]) == {"a:3": "s3", "a:4": "s4"}
    # Using an identity again makes it the most recent.
    store.commit(Changes(identities={"a:3": "s9"}))
    store.commit(Changes(identities={"a:7": "s7"}))
    assert store.last_sessions(["a:3", "a:4", "a:7"]) == {"a:3": "s9", "a:7": "s7"}
    assert store.counts() == {"sessions": 0, "ended": 3, "identities": 2}
    store.close()


def test_sessions_load_least_recently_seen_first_and_read_only(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, max_ended=10, max_identities=10)
    store.save_settings({"project_id": "shop", "session_url": None})
    store.commit(Changes(upserted={"late": _state("late", 9), "early": _state("early", 1)}))
    assert [s.session_id for s in store.load()] == ["early", "late"]
    states, settings = read_states(tmp_path)  # while the store is open
    assert sorted(s.session_id for s in states) == ["early", "late"]
    assert settings == {"project_id": "shop", "session_url": None}
    store.commit(Changes(ended={"late": None}))
    store.close()
    states, _ = read_states(tmp_path)  # after it closed
    assert [s.session_id for s in states] == ["early"]


def test_many_ids_are_looked_up_in_chunks(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, max_ended=5_000, max_identities=5_000)
    ids = {f"s{n}": None for n in range(2_000)}
    store.commit(Changes(ended=ids))
    assert store.ended([*ids, "other"]) == set(ids)
    store.close()


def test_no_database_reads_as_empty(tmp_path: Path) -> None:
    assert read_states(tmp_path) == ([], {})


def test_a_second_store_on_the_directory_is_refused(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, max_ended=1, max_identities=1)
    with pytest.raises(ConfigurationError, match="in use by another sv-otel process"):
        SessionStore(tmp_path, max_ended=1, max_identities=1)
    store.close()
