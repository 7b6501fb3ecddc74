"""The state database: bounded tables, settings, read-only reading."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.sessions.state import SessionState, encode_state
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


def test_changes_report_what_other_connections_committed(tmp_path: Path) -> None:
    one = SessionStore(tmp_path, max_ended=10, max_identities=10)
    two = SessionStore(tmp_path, max_ended=10, max_identities=10)
    assert (one.load(), two.load()) == ([], [])
    assert two.changes() is None
    with one.locked():
        one.commit(Changes(upserted={"s1": _state("s1", 1), "s2": _state("s2", 2)}))
    with two.locked():
        states, ended = two.changes() or ([], [])
        assert ([s.session_id for s in states], ended) == (["s1", "s2"], [])
        assert two.changes() is None  # reported once
        two.commit(Changes(upserted={"s1": _state("s1", 5)}, ended={"s2": None}))
    assert two.changes() is None  # its own commits are not reported to itself
    states, ended = one.changes() or ([], [])
    assert ([(s.session_id, s.last_seen_ms) for s in states], ended) == ([("s1", 5)], ["s2"])
    with one.locked():
        one.commit(Changes(ended={"s1": None}))
    assert two.changes() == ([], ["s1"])
    one.close()
    two.close()


def test_the_lock_is_exclusive_across_processes(tmp_path: Path) -> None:
    store = SessionStore(tmp_path, max_ended=1, max_identities=1)
    probe = [
        sys.executable,
        "-c",
        "import fcntl, sys; f = open(sys.argv[1], 'a+b')\n"
        "try: fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)\n"
        "except OSError: sys.exit(3)",
        str(tmp_path / "lock"),
    ]
    with store.locked():
        assert subprocess.run(probe, timeout=30).returncode == 3
    assert subprocess.run(probe, timeout=30).returncode == 0
    store.close()


def test_a_database_of_the_earlier_layout_gains_the_new_column(tmp_path: Path) -> None:
    old = sqlite3.connect(tmp_path / "state.sqlite3")
    old.execute(
        "CREATE TABLE sessions (session_id TEXT PRIMARY KEY, state BLOB NOT NULL) WITHOUT ROWID"
    )
    old.execute("INSERT INTO sessions VALUES ('s1', ?)", (encode_state(_state("s1", 1)),))
    old.commit()
    old.close()
    store = SessionStore(tmp_path, max_ended=10, max_identities=10)
    assert [s.session_id for s in store.load()] == ["s1"]
    with store.locked():
        store.commit(Changes(upserted={"s2": _state("s2", 2)}))
    assert [s.session_id for s in store.load()] == ["s1", "s2"]
    store.close()


def test_an_unusable_database_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigurationError) as caught:
        SessionStore(tmp_path, max_ended=1, max_identities=1)
    assert caught.value.message == f"{tmp_path / 'state.sqlite3'}: file is not a database"


def test_a_relative_directory_reads_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = SessionStore(tmp_path / "data dir?#", max_ended=10, max_identities=10)
    store.commit(Changes(upserted={"s1": _state("s1", 1)}))
    store.close()
    monkeypatch.chdir(tmp_path)
    states, _ = read_states(Path("data dir?#"))
    assert [s.session_id for s in states] == ["s1"]
