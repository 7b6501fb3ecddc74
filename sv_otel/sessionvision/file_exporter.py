"""The ``sessionvision_file`` exporter: events as sessionvision JSON lines in a file.

The embedded default for the OTLP-to-sessionvision direction, when no ingest host is configured.
Each event is one line of the SDK's event JSON (``{"event": ..., "timestamp": ..., ...}``), the
format :func:`sv_otel.parse_batch` and ``sv-otel translate`` read back. Lines are appended and
flushed on every export; a line is never split across exports, even when several exporters of
one process (one per pipeline) write to the same file.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, ClassVar

import msgspec

from sv_otel.errors import PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.session_json import SessionJson, split_piece
from sv_otel.sessionvision.metrics import EVENTS

__all__ = ["SessionvisionFileExporter"]

_encode = msgspec.json.Encoder().encode
_PATH_LOCKS: dict[Path, threading.Lock] = {}
_PATH_LOCKS_GUARD = threading.Lock()


def _path_lock(path: Path) -> threading.Lock:
    """The one lock of ``path`` in this process: writers of one file take turns."""
    key = path.absolute()
    with _PATH_LOCKS_GUARD:
        return _PATH_LOCKS.setdefault(key, threading.Lock())


class SessionvisionFileExporter:
    """Appends events, one JSON object a line, to a file.

    Args:
        path: the file (created if missing, appended to if not).
        name: the component name.
    """

    type: ClassVar[str] = "sessionvision_file"

    def __init__(self, path: str | os.PathLike[str], *, name: str = "sessionvision_file") -> None:
        self.name = name
        self.path = Path(path)
        self._file: IO[bytes] | None = None
        self._lock = asyncio.Lock()
        self._path_lock = _path_lock(self.path)

    async def export(self, events: Sequence[Event]) -> None:
        """Append ``events`` and flush.

        Raises:
            RetryableExportError: the file cannot be opened or written (disk full, permissions);
                nothing of ``events`` was written.
        """
        if events:
            await self._append(b"".join([_encode(event) + b"\n" for event in events]), len(events))

    async def export_session_json(self, batch: SessionJson) -> None:
        """Append events queued as JSON by session (each session's together), as :meth:`export`
        does."""
        try:
            lines = [
                encoded + b"\n"
                for session in batch.pieces.values()
                for _, piece in session
                for encoded in split_piece(piece)
            ]
        except msgspec.DecodeError as error:  # queued JSON damaged on disk
            raise PermanentExportError(f"queued events are damaged: {error}") from None
        if lines:
            await self._append(b"".join(lines), len(lines))

    async def _append(self, data: bytes, count: int) -> None:
        async with self._lock:
            try:
                await asyncio.to_thread(self._write, data)
            except OSError as error:
                raise RetryableExportError(
                    f"{self.path}: cannot write ({error.strerror or error})"
                ) from None
        EVENTS.labels("written").inc(count)

    async def shutdown(self) -> None:
        """Close the file."""
        async with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def _write(self, data: bytes) -> None:
        with self._path_lock:
            if self._file is None:
                self._file = self.path.open("ab")
            start = self._file.seek(0, os.SEEK_END)  # another writer may have appended
            try:
                self._file.write(data)
                self._file.flush()
            except OSError:
                # Leave no partial line behind: the queue will retry the whole batch.
                self._file.seek(start)
                self._file.truncate()
                raise
