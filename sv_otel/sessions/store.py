"""The session state database (sqlite): what survives a restart of the processor.

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
events a call returned. A lock file makes the directory belong to one process at a time.
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
CREATE TABLE IF NOT EXISTS sessions (session_id TEXT PRIMARY KEY, state BLOB NOT NULL)
    WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS ended (seq INTEGER PRIMARY KEY, session_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS identities (
    identity TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS identities_by_seq ON identities (seq);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT);
"""
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
    """The state database in ``directory`` (created if missing), owned by this process.

    Raises:
        ConfigurationError: another process holds the directory, or it cannot be used.
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
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._lock.close()
            raise ConfigurationError(
                f"{directory}: in use by another sv-otel process (its lock is held)"
            ) from None
        try:
            self._db = _connect(directory / STATE_FILE)
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            self._release()
            raise ConfigurationError(f"{directory / STATE_FILE}: {exc}") from None
        row = self._db.execute("SELECT COALESCE(MAX(seq), 0) FROM identities").fetchone()
        self._identity_seq: int = row[0]

    def save_settings(self, settings: dict[str, str | None]) -> None:
        """Record ``settings`` (replacing those of an earlier run)."""
        with self._db:
            self._db.execute("DELETE FROM settings")
            self._db.executemany("INSERT INTO settings VALUES (?, ?)", list(settings.items()))

    def load(self) -> list[SessionState]:
        """Return every tracked session, least recently seen first."""
        states = [decode_state(blob) for (blob,) in self._db.execute("SELECT state FROM sessions")]
        states.sort(key=lambda state: state.last_seen_ms)
        return states

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
        """Write ``changes`` in one transaction."""
        if not changes:
            return
        db = self._db
        with db:
            if changes.upserted:
                db.executemany(
                    "INSERT OR REPLACE INTO sessions VALUES (?, ?)",
                    [(key, encode_state(state)) for key, state in changes.upserted.items()],
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
                rows = []
                for identity, session_id in changes.identities.items():
                    self._identity_seq += 1
                    rows.append((identity, session_id, self._identity_seq))
                db.executemany("INSERT OR REPLACE INTO identities VALUES (?, ?, ?)", rows)
                db.execute(
                    "DELETE FROM identities WHERE seq <= ?",
                    (self._identity_seq - self._max_identities,),
                )

    def counts(self) -> dict[str, int]:
        """Rows in each table (for tests and diagnostics)."""
        return {
            table: self._db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("sessions", "ended", "identities")
        }

    def close(self) -> None:
        """Close the database and release the directory."""
        self._db.close()
        self._release()

    def _select(self, query: str, keys: Iterable[str]) -> Iterator[str]:
        for chunk in _chunks(list(keys)):
            marks = ",".join("?" * len(chunk))
            for (value,) in self._db.execute(f"{query} ({marks})", chunk):
                yield value

    def _release(self) -> None:
        with contextlib.suppress(OSError):
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
        self._lock.close()


def read_states(directory: Path) -> tuple[list[SessionState], dict[str, str | None]]:
    """Read the tracked sessions and the settings of ``directory``, read-only, without its lock.

    Returns empty results when there is no state database.

    Raises:
        ConfigurationError: the database cannot be read.
    """
    path = directory / STATE_FILE
    if not path.exists():
        return [], {}
    try:
        db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
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
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.isolation_level = "DEFERRED"
    return db


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
