"""The session state database (sqlite): what survives a restart, shared by worker processes.

Three tables, all bounded (and ``settings``: the ``project_id`` and ``session_url`` in force, so
that ``sv-otel sessions`` can summarise open sessions the way the processor would):

* ``sessions``: the state of every session being tracked (at most ``max_sessions`` rows; the
  processor keeps the same rows in memory and writes through on every call);
* ``ended``: ids of ended sessions, so late events never start them again (the oldest beyond
  ``max_ended`` are forgotten);
* ``identities``: the last session started by each anonymous id (``a:<id>``) and user id
  (``u:<id>``), for ``session.previous_id`` (the least recently used beyond ``max_identities``
  are forgotten).

Each :meth:`SessionStore.commit` is one transaction, so the state on disk always matches the
events a call returned.

**Several processes.** The directory may be used by several processes at once (the workers of
``sv-otel serve --workers N``): each call of the processor holds :meth:`SessionStore.locked`
(an exclusive ``flock`` on the ``lock`` file, released when the call returns or the process
dies), first reads what the others committed since its last call (:meth:`SessionStore.changes`:
every commit stamps the sessions rows it writes with the next number of a shared counter, and
``ended`` rows are numbered in order), then commits its own changes. So each process's memory
is up to date whenever it decides anything, and a session has one ``session.start`` whichever
worker its events reach.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import msgspec

from sv_otel.errors import ConfigurationError
from sv_otel.sessions.config import LOCK_FILE, STATE_FILE
from sv_otel.sessions.state import SessionState, decode_state, encode_state

__all__ = ["Changes", "SessionStore", "read_states"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY, state BLOB NOT NULL, seq INTEGER NOT NULL DEFAULT 0)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ended (seq INTEGER PRIMARY KEY, session_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS identities (
    identity TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identities_by_seq ON identities (seq);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
_INDEX: Final = "CREATE INDEX IF NOT EXISTS sessions_by_seq ON sessions (seq)"
_CHUNK: Final = 500  # ids per IN (...) query


@dataclass(slots=True)
class Changes:
    """What one processor call changed, written by :meth:`SessionStore.commit`."""

    upserted: dict[str, SessionState] = field(default_factory=dict)
    ended: dict[str, None] = field(default_factory=dict)  # an ordered set
    identities: dict[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.upserted or self.ended or self.identities)


class SessionStore:
    """The state database in ``directory`` (created if missing).

    Raises:
        ConfigurationError: the directory or its database cannot be used.
    """

    def __init__(self, directory: Path, *, max_ended: int, max_identities: int) -> None:
        self._max_ended = max_ended
        self._max_identities = max_identities
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock = open(directory / LOCK_FILE, "a+b")  # noqa: SIM115 - held until close
        except OSError as exc:
            raise ConfigurationError(f"{directory}: cannot use it ({exc.strerror})") from None
        try:
            with self.locked():
                self._db = _connect(directory / STATE_FILE)
                _create_tables(self._db)
        except sqlite3.Error as exc:
            self._lock.close()
            raise ConfigurationError(f"{directory / STATE_FILE}: {exc}") from None
        # What this connection has seen: the data version and the last numbers read.
        self._data_version = -1
        self._seq = 0
        self._ended_seq = 0

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the directory's lock (blocking until the process holding it lets go)."""
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)

    def save_settings(self, settings: dict[str, str | None]) -> None:
        """Record ``settings`` (replacing those of an earlier run)."""
        with self._db:
            self._db.execute("DELETE FROM settings")
            self._db.executemany("INSERT INTO settings VALUES (?, ?)", list(settings.items()))

    def load(self) -> list[SessionState]:
        """Return every tracked session, least recently seen first.

        What was committed before counts as seen: :meth:`changes` reports what comes after.
        """
        self._data_version = self._version()
        self._seq = self._counter()
        self._ended_seq = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM ended").fetchone()[0]
        states = [decode_state(blob) for (blob,) in self._db.execute("SELECT state FROM sessions")]
        states.sort(key=lambda state: state.last_seen_ms)
        return states

    def changes(self) -> tuple[list[SessionState], list[str]] | None:
        """Return what other connections committed since this one last looked, or None.

        Returns:
            The sessions they wrote (in the order written) and the ids they ended, or None
            when nothing changed (a cheap check). Call it holding :meth:`locked`.
        """
        version = self._version()
        if version == self._data_version:
            return None
        rows = self._db.execute(
            "SELECT state FROM sessions WHERE seq > ? ORDER BY seq", (self._seq,)
        ).fetchall()
        ended = self._db.execute(
            "SELECT seq, session_id FROM ended WHERE seq > ? ORDER BY seq", (self._ended_seq,)
        ).fetchall()
        self._seq = self._counter()
        if ended:
            self._ended_seq = ended[-1][0]
        self._data_version = version
        return [decode_state(blob) for (blob,) in rows], [session_id for _, session_id in ended]

    def ended(self, session_ids: Iterable[str]) -> set[str]:
        """Return those of ``session_ids`` that are recorded as ended."""
        return set(self._select("SELECT session_id FROM ended WHERE session_id IN", session_ids))

    def last_sessions(self, identities: Iterable[str]) -> dict[str, str]:
        """Return the last session started by each of ``identities`` that has one."""
        found: dict[str, str] = {}
        for chunk in _chunks(list(identities)):
            marks = ",".join("?" * len(chunk))
            for identity, session_id in self._db.execute(
                f"SELECT identity, session_id FROM identities WHERE identity IN ({marks})", chunk
            ):
                found[identity] = session_id
        return found

    def commit(self, changes: Changes) -> None:
        """Write ``changes`` in one transaction (holding :meth:`locked`, after :meth:`changes`)."""
        if not changes:
            return
        db = self._db
        with db:
            seq = self._counter() + 1
            db.execute("INSERT OR REPLACE INTO counters VALUES ('sessions', ?)", (seq,))
            if changes.upserted:
                db.executemany(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?)",
                    [(key, encode_state(state), seq) for key, state in changes.upserted.items()],
                )
            if changes.ended:
                db.executemany(
                    "DELETE FROM sessions WHERE session_id = ?", [(i,) for i in changes.ended]
                )
                db.executemany(
                    "INSERT OR REPLACE INTO ended (session_id) VALUES (?)",
                    [(i,) for i in changes.ended],
                )
                db.execute(
                    "DELETE FROM ended WHERE seq <= (SELECT MAX(seq) FROM ended) - ?",
                    (self._max_ended,),
                )
            if changes.identities:
                last = db.execute("SELECT COALESCE(MAX(seq), 0) FROM identities").fetchone()[0]
                rows = [
                    (identity, session_id, last + number)
                    for number, (identity, session_id) in enumerate(
                        changes.identities.items(), start=1
                    )
                ]
                db.executemany("INSERT OR REPLACE INTO identities VALUES (?, ?, ?)", rows)
                db.execute(
                    "DELETE FROM identities WHERE seq <= ?", (rows[-1][2] - self._max_identities,)
                )
        self._seq = seq
        if changes.ended:
            self._ended_seq = db.execute("SELECT MAX(seq) FROM ended").fetchone()[0]

    def counts(self) -> dict[str, int]:
        """Rows in each table (for tests and diagnostics)."""
        return {
            table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("sessions", "ended", "identities")
        }

    def close(self) -> None:
        """Close the database and the lock file."""
        self._db.close()
        self._lock.close()

    def _version(self) -> int:
        """SQLite's ``data_version``: it changes when another connection commits."""
        version: int = self._db.execute("PRAGMA data_version").fetchone()[0]
        return version

    def _counter(self) -> int:
        row = self._db.execute("SELECT value FROM counters WHERE name = 'sessions'").fetchone()
        return 0 if row is None else int(row[0])

    def _select(self, query: str, keys: Iterable[str]) -> Iterator[str]:
        for chunk in _chunks(list(keys)):
            marks = ",".join("?" * len(chunk))
            for (value,) in self._db.execute(f"{query} ({marks})", chunk):
                yield value


def read_states(directory: Path) -> tuple[list[SessionState], dict[str, str | None]]:
    """Read the tracked sessions and the settings of ``directory``, read-only, without the lock.

    Returns empty results when there is no state database.

    Raises:
        ConfigurationError: the database cannot be read.
    """
    path = directory / STATE_FILE
    if not path.exists():
        return [], {}
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            rows = db.execute("SELECT state FROM sessions").fetchall()
            settings = dict(db.execute("SELECT key, value FROM settings").fetchall())
        finally:
            db.close()
        return [decode_state(blob) for (blob,) in rows], settings
    except (sqlite3.Error, msgspec.MsgspecError) as exc:
        raise ConfigurationError(f"{path}: unreadable session state ({exc})") from None


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(os.fspath(path), isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.Error:
        db.close()
        raise
    db.isolation_level = "DEFERRED"
    return db


def _create_tables(db: sqlite3.Connection) -> None:
    try:
        db.executescript(_SCHEMA)
        columns = {row[1] for row in db.execute("PRAGMA table_info(sessions)")}
        if "seq" not in columns:  # written by an earlier version
            db.execute("ALTER TABLE sessions ADD COLUMN seq INTEGER NOT NULL DEFAULT 0")
        db.execute(_INDEX)
    except sqlite3.Error:
        db.close()
        raise


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
