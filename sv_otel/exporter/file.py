"""The file exporter: OTLP/JSON lines, rotated by size (the embedded default).

Each export appends one line: an ``ExportLogsServiceRequest`` or ``ExportTraceServiceRequest``
in OTLP/JSON, the format of the OpenTelemetry Collector's ``file`` exporter (so its ``otlpjson``
receiver, or ``sv-otel translate --to sessionvision``, can read it back)::

    exporters:
      file:
        path: /var/lib/sv-otel/export/logs.jsonl   # default <data-dir>/export/<signal>.jsonl
        rotation:
          max_megabytes: 100   # rotate when the file would grow past this
          max_backups: 10      # rotated files kept (oldest deleted); 0 = keep all

A rotated file is renamed ``<name>-<UTC time>.jsonl`` next to the current one.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sv_otel.event import Event
from sv_otel.exporter.encoding import encode_json_request, request_to_json
from sv_otel.server.section import ConfigSection

__all__ = ["FileExporter", "FileSettings", "parse_file_settings"]


@dataclass(frozen=True)
class FileSettings:
    """``path`` (None = the data directory's default), rotation size and backups kept."""

    path: str | None = None
    max_megabytes: int = 100
    max_backups: int = 10


def parse_file_settings(section: ConfigSection) -> FileSettings:
    """Read the ``file`` exporter's YAML mapping."""
    rotation = section.section("rotation")
    settings = FileSettings(
        path=section.string("path", None),
        max_megabytes=rotation.integer("max_megabytes", 100, minimum=1),
        max_backups=rotation.integer("max_backups", 10),
    )
    rotation.finish()
    section.finish()
    return settings


class FileExporter:
    """Appends OTLP/JSON lines to ``path``, rotating it past ``max_megabytes``."""

    def __init__(self, name: str, signal: str, path: Path, settings: FileSettings) -> None:
        self.name = name
        self.signal = signal
        self.path = path
        self.max_bytes = settings.max_megabytes * 1024 * 1024
        self.max_backups = settings.max_backups
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "ab")  # noqa: SIM115 (kept open across exports)
        self._size = path.stat().st_size

    async def export(self, events: Sequence[Event]) -> None:
        """Append one line holding ``events``."""
        line = encode_json_request(events, self.signal) + b"\n"
        await asyncio.to_thread(self._write, line)

    async def export_request(self, request: bytes, count: int) -> None:
        """Append one line holding a ready ``Export*ServiceRequest``."""
        line = request_to_json(request, self.signal) + b"\n"
        await asyncio.to_thread(self._write, line)

    async def shutdown(self) -> None:
        """Close the file."""
        self._file.close()

    def _write(self, line: bytes) -> None:
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._file.write(line)
        self._file.flush()
        self._size += len(line)

    def _rotate(self) -> None:
        self._file.close()
        stamp = time.strftime("%Y-%m-%dT%H-%M-%S", time.gmtime()) + f".{time.time_ns() % 10**9:09d}"
        self.path.rename(self.path.with_name(f"{self.path.stem}-{stamp}{self.path.suffix}"))
        if self.max_backups:
            backups = sorted(self.path.parent.glob(f"{self.path.stem}-*{self.path.suffix}"))
            for old in backups[: -self.max_backups]:
                old.unlink(missing_ok=True)
        self._file = open(self.path, "ab")  # noqa: SIM115
        self._size = 0
