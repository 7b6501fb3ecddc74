"""The file exporter: sessionvision JSON lines that parse_batch reads back."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path
from typing import IO, Any, cast

import pytest

from sv_otel.batch import parse_batch
from sv_otel.errors import PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.session_json import SessionJson, encode_session_json
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


def test_exporters_sharing_a_file_never_mix_their_lines(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    batches = [
        [Event(event=f"e{writer}-{n}", timestamp=n, session_id=f"s{writer}") for n in range(400)]
        for writer in range(2)
    ]

    async def scenario() -> None:
        writers = [SessionvisionFileExporter(path), SessionvisionFileExporter(path)]
        await asyncio.gather(
            *(
                w.export(batch[i : i + 50])
                for i in range(0, 400, 50)
                for w, batch in zip(writers, batches, strict=True)
            )
        )
        for writer in writers:
            await writer.shutdown()

    asyncio.run(scenario())
    events = parse_batch(path.read_bytes()).events
    assert len(events) == 800
    for writer, batch in enumerate(batches):
        assert [e for e in events if e.session_id == f"s{writer}"] == batch


class _DiskFullOnce:
    """A file whose next write stores half the data and then fails, as a full disk does."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.failed = False

    def write(self, data: bytes) -> int:
        if self.failed:
            return int(self.file.write(data))
        self.failed = True
        self.file.write(data[: len(data) // 2])
        self.file.flush()
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.file, name)


def test_a_failed_write_removes_only_its_own_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "shared.jsonl"
    first, second = SessionvisionFileExporter(path), SessionvisionFileExporter(path)

    async def scenario() -> None:
        await first.export(EVENTS[:1])
        await second.export(EVENTS[1:])
        first._file = cast(IO[bytes], _DiskFullOnce(first._file))
        with pytest.raises(RetryableExportError):
            await first.export(EVENTS)
        await first.export(EVENTS[:1])
        await first.shutdown()
        await second.shutdown()

    asyncio.run(scenario())
    assert parse_batch(path.read_bytes()).events == [EVENTS[0], EVENTS[1], EVENTS[0]]


def test_events_queued_as_json_are_written_as_the_events_themselves_are(tmp_path: Path) -> None:
    events = [*EVENTS, Event(event="late", timestamp=3, session_id="s", properties={"f": 0.25})]
    stored = [encode_session_json(events[:2]), encode_session_json(events[2:])]

    async def scenario() -> None:
        exporter = SessionvisionFileExporter(tmp_path / "json.jsonl")
        await exporter.export_session_json(SessionJson.of_payloads(stored))
        await exporter.export_session_json(SessionJson())  # nothing: nothing written
        await exporter.shutdown()
        plain = SessionvisionFileExporter(tmp_path / "plain.jsonl")
        await plain.export([events[0], events[2], events[1]])  # session by session
        await plain.shutdown()

    asyncio.run(scenario())
    written = (tmp_path / "json.jsonl").read_bytes()
    assert written == (tmp_path / "plain.jsonl").read_bytes()
    assert parse_batch(written).events == [events[0], events[2], events[1]]


def test_damaged_queued_json_is_refused_for_good_and_nothing_written(tmp_path: Path) -> None:
    batch = SessionJson()
    batch.pieces = {"s": [(2, b'{"event":"a","timestamp":1,"sessionId":"s"},{"ev')]}
    exporter = SessionvisionFileExporter(tmp_path / "out.jsonl")
    with pytest.raises(PermanentExportError, match=r"^queued events are damaged: "):
        asyncio.run(exporter.export_session_json(batch))
    assert not (tmp_path / "out.jsonl").exists()
