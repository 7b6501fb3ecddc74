"""The file exporter: OTLP/JSON lines, rotated by size."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from sv_otel.errors import ConfigurationError
from sv_otel.event import Event
from sv_otel.exporter.file import FileExporter, FileSettings, parse_file_settings
from sv_otel.otlp_json import decode_json
from sv_otel.server.section import ConfigSection
from sv_otel.translate import logs_to_events

pytestmark = pytest.mark.anyio


async def test_lines_are_otlp_json_requests_that_read_back_to_the_events(tmp_path: Path) -> None:
    path = tmp_path / "out" / "logs.jsonl"
    exporter = FileExporter("file", "logs", path, FileSettings())
    first = [Event(event="a", timestamp=1, session_id="s", properties={"k": [1, 2]})]
    second = [Event(event="b", timestamp=2, session_id="s")]
    await exporter.export(first)
    await exporter.export(second)
    await exporter.shutdown()
    lines = path.read_bytes().splitlines()
    decoded = [logs_to_events(decode_json(line, ExportLogsServiceRequest)) for line in lines]
    assert decoded == [first, second]


async def test_rotation_keeps_max_backups(tmp_path: Path) -> None:
    path = tmp_path / "logs.jsonl"
    exporter = FileExporter("file", "logs", path, FileSettings(max_megabytes=1, max_backups=2))
    big = [Event(event="x", timestamp=1, session_id="s", properties={"p": "y" * 400_000})]
    for _ in range(6):
        await exporter.export(big)
    await exporter.shutdown()
    backups = sorted(tmp_path.glob("logs-*.jsonl"))
    assert len(backups) == 2
    assert path.stat().st_size <= 1024 * 1024
    assert all(len(p.read_bytes().splitlines()) == 2 for p in backups)


def test_settings_reject_unknown_keys() -> None:
    section = ConfigSection({"rotation": {"max_megabyte": 5}}, "exporters.file")
    with pytest.raises(ConfigurationError) as raised:
        parse_file_settings(section)
    assert raised.value.message == (
        "exporters.file.rotation.max_megabyte: unknown key "
        "(expected one of: max_backups, max_megabytes)"
    )
