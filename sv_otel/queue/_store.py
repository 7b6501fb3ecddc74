"""The sqlite file behind the durable queue: plain, synchronous SQL (no asyncio, no threads).

One file holds the batches of every pipeline of one worker::

    records(id INTEGER PRIMARY KEY AUTOINCREMENT, pipeline, events, payload)
    cursors(pipeline, consumer, acked)       -- the last record id each exporter has finished

``AUTOINCREMENT`` keeps ids increasing for the life of the file, so a cursor stays valid after
the rows below it are deleted. A record is deleted once every consumer of its pipeline has
acknowledged it. The file runs in WAL mode; ``synchronous=FULL`` (the default) makes every
commit survive a power cut, ``NORMAL`` only a crash of the process.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Record", "SqliteStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    events INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS records_by_pipeline ON records (pipeline, id);
CREATE TABLE IF NOT EXISTS cursors (
    pipeline TEXT NOT NULL,
    consumer TEXT NOT NULL,
    acked INTEGER NOT NULL,
    PRIMARY KEY (pipeline, consumer)
);
"""


@dataclass(frozen=True, slots=True)
class Record:
    """One queued batch: its id, how many events it holds, and their encoding (its payload)."""

    id: int
    events: int
    payload: bytes


class SqliteStore:
    """A queue file; every method runs one short transaction on the calling thread.

    Args:
        path: the sqlite file (created with its directory if missing).
        synchronous: ``"FULL"`` (fsync on every commit) or ``"NORMAL"``.
    """

    def __init__(self, path: Path, *, synchronous: str = "FULL") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)
        # Checkpoints run on their own connection and thread (see checkpoint), so the commits
        # that requests wait for never pay for copying the WAL back into the file.
        self._db.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpointer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._checkpointer.execute("PRAGMA busy_timeout=5000")
        # Acknowledgements commit without an fsync of their own: the next FULL commit of a
        # batch syncs the whole WAL, and an acknowledgement lost to a power cut only means
        # a batch delivered twice, never one lost.
        self._acks = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._acks.execute("PRAGMA synchronous=NORMAL")
        self._acks.execute("PRAGMA busy_timeout=5000")

    def close(self) -> None:
        """Close the file (a checkpoint folds the WAL back into it)."""
        self._checkpointer.close()
        self._acks.close()
        self._db.close()

    def checkpoint(self) -> None:
        """Copy committed WAL pages back into the file without blocking writers (PASSIVE)."""
        self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def register(self, consumers: Iterable[tuple[str, str]]) -> list[tuple[str, Record]]:
        """Make ``(pipeline, consumer)`` the consumers; forget cursors of any others.

        A new consumer starts after the last record that was already fully delivered, so it
        receives whatever is still queued for its pipeline.

        Returns:
            The records of pipelines no consumer reads any more, removed from the file (the
            caller keeps them elsewhere, e.g. in a dead-letter file).
        """
        wanted = set(consumers)
        with self._transaction():
            known = set(self._db.execute("SELECT pipeline, consumer FROM cursors").fetchall())
            for pipeline, consumer in known - wanted:
                self._db.execute(
                    "DELETE FROM cursors WHERE pipeline = ? AND consumer = ?", (pipeline, consumer)
                )
            for pipeline, consumer in sorted(wanted - known):
                first = self._db.execute(
                    "SELECT MIN(id) FROM records WHERE pipeline = ?", (pipeline,)
                ).fetchone()[0]
                start = 0 if first is None else first - 1
                self._db.execute(
                    "INSERT INTO cursors (pipeline, consumer, acked) VALUES (?, ?, ?)",
                    (pipeline, consumer, start),
                )
            orphaned = "pipeline NOT IN (SELECT pipeline FROM cursors)"
            removed = [
                (pipeline, Record(record_id, events, payload))
                for pipeline, record_id, events, payload in self._db.execute(
                    "SELECT pipeline, id, events, payload FROM records "
                    f"WHERE {orphaned} ORDER BY id"
                )
            ]
            self._db.execute(f"DELETE FROM records WHERE {orphaned}")
        return removed

    def append(self, rows: Sequence[tuple[str, int, bytes]]) -> list[int]:
        """Insert ``(pipeline, events, payload)`` rows in one transaction (one commit).

        Returns:
            The ids of the rows, in order.
        """
        ids: list[int] = []
        with self._transaction():
            for row in rows:
                cursor = self._db.execute(
                    "INSERT INTO records (pipeline, events, payload) VALUES (?, ?, ?)", row
                )
                assert cursor.lastrowid is not None
                ids.append(cursor.lastrowid)
        return ids

    def last_id(self) -> int:
        """The largest record id ever used in the file (0 for none)."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        return 0 if row is None else int(row[0])

    def cursor(self, pipeline: str, consumer: str) -> int:
        """The id of the last record ``consumer`` acknowledged (0 for none)."""
        row = self._db.execute(
            "SELECT acked FROM cursors WHERE pipeline = ? AND consumer = ?", (pipeline, consumer)
        ).fetchone()
        return 0 if row is None else int(row[0])

    def cursors(self) -> dict[str, dict[str, int]]:
        """``{pipeline: {consumer: acked}}`` for every registered consumer."""
        out: dict[str, dict[str, int]] = {}
        for pipeline, consumer, acked in self._db.execute(
            "SELECT pipeline, consumer, acked FROM cursors"
        ):
            out.setdefault(pipeline, {})[consumer] = int(acked)
        return out

    def read(self, pipeline: str, after: int, max_events: int, max_bytes: int) -> list[Record]:
        """Records of ``pipeline`` after id ``after``, in order, up to the limits (at least one)."""
        out: list[Record] = []
        events = size = 0
        rows = self._db.execute(
            "SELECT id, events, payload FROM records WHERE pipeline = ? AND id > ? "
            "ORDER BY id LIMIT 10000",
            (pipeline, after),
        )
        for record_id, count, payload in rows:
            if out and (events + count > max_events or size + len(payload) > max_bytes):
                break
            out.append(Record(record_id, count, payload))
            events += count
            size += len(payload)
        return out

    def ack(
        self, pipeline: str, consumer: str, upto: int, done: int, *, measure: bool = True
    ) -> tuple[int, int]:
        """Record that ``consumer`` finished every record up to ``upto``, and delete the
        records up to ``done`` (which every consumer of the pipeline has finished).

        Returns:
            ``(bytes, events)`` deleted, when ``measure`` (else ``(0, 0)``: the caller knows).
        """
        size = events = 0
        with _Transaction(self._acks):
            self._acks.execute(
                "UPDATE cursors SET acked = MAX(acked, ?) WHERE pipeline = ? AND consumer = ?",
                (upto, pipeline, consumer),
            )
            if measure:
                size, events = self._acks.execute(
                    "SELECT COALESCE(SUM(LENGTH(payload)), 0), COALESCE(SUM(events), 0) "
                    "FROM records WHERE pipeline = ? AND id <= ?",
                    (pipeline, done),
                ).fetchone()
            self._acks.execute(
                "DELETE FROM records WHERE pipeline = ? AND id <= ?", (pipeline, done)
            )
        return int(size), int(events)

    def totals(self) -> dict[str, tuple[int, int]]:
        """``{pipeline: (queued bytes, queued events)}`` for every pipeline with records."""
        rows = self._db.execute(
            "SELECT pipeline, SUM(LENGTH(payload)), SUM(events) FROM records GROUP BY pipeline"
        ).fetchall()
        return {pipeline: (int(size), int(events)) for pipeline, size, events in rows}

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (or ``ROLLBACK`` on an exception)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, value: object, traceback: object) -> None:
        if kind is None:
            self._db.execute("COMMIT")
        elif self._db.in_transaction:  # some errors (SQLITE_FULL) have rolled back already
            self._db.execute("ROLLBACK")
