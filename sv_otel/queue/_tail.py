"""The records committed lately, kept in memory so the exporters need not read them back.

An exporter reads what was just committed: in the steady state every record it reads is one
the queue wrote a moment before. :class:`RecentRecords` holds them, per pipeline, up to a byte
budget (the oldest go first) and until every consumer of the pipeline acknowledged them. For
each pipeline it knows a *floor*: every record of the pipeline with a larger id is held. A
reader whose cursor is at or above the floor is served from memory; one below it (after a
restart, or behind a backlog larger than the budget) reads the file.
"""

from __future__ import annotations

from collections import deque

from sv_otel.queue._store import Record

__all__ = ["RecentRecords"]


class RecentRecords:
    """Recent records of every pipeline of one queue file.

    Args:
        floor: the largest record id in the file when it was opened (none of those is held).
        budget: the most payload bytes held.
    """

    def __init__(self, floor: int, budget: int) -> None:
        self._start = floor
        self._budget = budget
        self._size = 0
        self._records: dict[str, deque[Record]] = {}
        self._floors: dict[str, int] = {}

    def add(self, pipeline: str, record: Record) -> None:
        """Hold a record just committed (ids increase)."""
        records = self._records.get(pipeline)
        if records is None:
            records = self._records[pipeline] = deque()
        records.append(record)
        self._size += len(record.payload)
        while self._size > self._budget:
            self._evict_oldest()

    def read(
        self, pipeline: str, after: int, max_events: int, max_bytes: int
    ) -> list[Record] | None:
        """Records after id ``after``, as :meth:`SqliteStore.read` would return them, or None
        when some of them are not held (read the file then)."""
        if after < self._floors.get(pipeline, self._start):
            return None
        out: list[Record] = []
        events = size = 0
        for record in self._records.get(pipeline, ()):
            if record.id <= after:
                continue
            if out and (
                events + record.events > max_events or size + len(record.payload) > max_bytes
            ):
                break
            out.append(record)
            events += record.events
            size += len(record.payload)
        return out

    def release(self, pipeline: str, done: int, since: int) -> tuple[int, int] | None:
        """Forget the records up to id ``done``: every consumer has them (and had every one
        up to ``since`` before).

        Returns:
            ``(bytes, events)`` of the records after ``since`` up to ``done``, when all of them
            were held; None when some were not (the file knows).
        """
        covered = self._floors.get(pipeline, self._start) <= since
        size = events = 0
        records = self._records.get(pipeline)
        while records and records[0].id <= done:
            record = records.popleft()
            size += len(record.payload)
            events += record.events
        self._size -= size
        self._floors[pipeline] = max(self._floors.get(pipeline, self._start), done)
        return (size, events) if covered else None

    def _evict_oldest(self) -> None:
        oldest: tuple[int, str] | None = None
        for pipeline, records in self._records.items():
            if records and (oldest is None or records[0].id < oldest[0]):
                oldest = (records[0].id, pipeline)
        assert oldest is not None
        record = self._records[oldest[1]].popleft()
        self._size -= len(record.payload)
        self._floors[oldest[1]] = record.id
