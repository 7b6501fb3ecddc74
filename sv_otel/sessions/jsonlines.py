"""Append-only JSON lines files that rotate at a size, and reading them back tolerantly.

A :class:`RotatingJsonLines` appends whole lines; when the file reaches ``max_bytes`` it is
renamed to ``<name>.1`` (replacing the previous ``.1``) and a new file is started, so the two
together stay under about twice ``max_bytes``. :func:`read_json_lines` reads the older generation
first, then the current one, and reports lines that are not JSON objects (a line cut short by a
crash, say) instead of failing.

Several processes may append to one file when they take turns (the session processors of a
gateway's workers hold the directory's lock): each append goes to the file now at the path,
reopening it when another process has rotated it, and the size is the file's own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import msgspec

from sv_otel.event import JSONValue

__all__ = ["JsonLine", "RotatingJsonLines", "read_json_lines"]

_DECODER = msgspec.json.Decoder()


class RotatingJsonLines:
    """An append-only JSON lines file at ``path`` that rotates at ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._file: IO[bytes] | None = None
        self._size = 0

    def append(self, lines: Iterable[bytes]) -> None:
        """Append ``lines`` (each without its newline) and flush them to the OS."""
        data = b"".join(line + b"\n" for line in lines)
        if not data:
            return
        out = self._open()
        out.write(data)
        out.flush()
        self._size = out.tell()  # the end of the file, whoever wrote the rest
        if self._size >= self._max_bytes:
            self._rotate()

    def close(self) -> None:
        """Close the file (appending again reopens it)."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def _open(self) -> IO[bytes]:
        if self._file is not None and not self._is_current(self._file):
            self.close()  # another process rotated it
        if self._file is None:
            self._file = open(self._path, "ab")  # noqa: SIM115 - kept open across calls
        return self._file

    def _is_current(self, file: IO[bytes]) -> bool:
        try:
            return os.stat(self._path).st_ino == os.fstat(file.fileno()).st_ino
        except FileNotFoundError:
            return False

    def _rotate(self) -> None:
        self.close()
        os.replace(self._path, self._path.with_name(self._path.name + ".1"))
        self._size = 0


@dataclass(frozen=True, slots=True)
class JsonLine:
    """One line of a JSON lines file: its object, or the problem that kept it from being read.

    Attributes:
        path: the file.
        number: the 1-based line number.
        value: the JSON object, or None when the line is not one.
        problem: why the line could not be read (``not JSON``, ``not a JSON object``), or None.
    """

    path: Path
    number: int
    value: dict[str, JSONValue] | None
    problem: str | None = None


def read_json_lines(path: Path) -> Iterator[JsonLine]:
    """Yield the lines of ``<path>.1``, then of ``path`` (skipping missing files, blank lines)."""
    for current in (path.with_name(path.name + ".1"), path):
        try:
            source = open(current, "rb")  # noqa: SIM115 - closed below
        except FileNotFoundError:
            continue
        with source:
            for number, line in enumerate(source, start=1):
                if not line.strip():
                    continue
                try:
                    value = _DECODER.decode(line)
                except (msgspec.MsgspecError, UnicodeDecodeError, RecursionError):
                    yield JsonLine(current, number, None, "not JSON")
                    continue
                if type(value) is not dict:
                    yield JsonLine(current, number, None, "not a JSON object")
                    continue
                yield JsonLine(current, number, value)
