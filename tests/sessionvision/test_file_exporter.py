"""The file exporter: sessionvision JSON lines that parse_batch reads back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from sv_otel.batch import parse_batch
from sv_otel.errors import RetryableExportError
from sv_otel.event import Event
from sv_otel.sessionvision import SessionvisionFileExporter

EVENTS = [
    Event(event="$span", timestamp=1, session_id="s", properties={"name": "GET /", "n": [1, 2]}),
    Event(event="$log", timestamp=2, session_id="t", user_id="u", properties={}),
]


def test_writes_one_event_a_line_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"")

    async def scenario() -> None:
        exporter = SessionvisionFileExporter(path)
        await exporter.export(EVENTS)
        await exporter.export([])
        await exporter.export(EVENTS[:1])
        await exporter.shutdown()
        again = SessionvisionFileExporter(path, name="sessionvision_file/2")
        await again.export(EVENTS[1:])
        await again.shutdown()

    asyncio.run(scenario())
    lines = path.read_bytes().splitlines()
    assert len(lines) == 4
    assert lines[0].startswith(b'{"event":"$span","timestamp":1,')
    assert parse_batch(path.read_bytes()).events == [*EVENTS, EVENTS[0], EVENTS[1]]


def test_unwritable_path_is_retryable(tmp_path: Path) -> None:
    exporter = SessionvisionFileExporter(tmp_path / "missing-dir" / "events.jsonl")
    with pytest.raises(RetryableExportError) as caught:
        asyncio.run(exporter.export(EVENTS))
    assert caught.value.message == (
        f"{tmp_path / 'missing-dir' / 'events.jsonl'}: cannot write (No such file or directory)"
    )
    assert exporter.type == "sessionvision_file"
