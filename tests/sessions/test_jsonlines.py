"""Rotating JSON lines files and tolerant reading."""

from __future__ import annotations

from pathlib import Path

from sv_otel.sessions.jsonlines import JsonLine, RotatingJsonLines, read_json_lines


def test_files_rotate_at_the_size_keeping_one_older_generation(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    log = RotatingJsonLines(path, max_bytes=20)
    log.append([b'{"n":1}', b'{"n":2}'])  # 16 bytes
    assert not path.with_name("log.jsonl.1").exists()
    log.append([b'{"n":3}'])  # 24 bytes: rotates
    log.append([])  # nothing to write: no file is created
    assert not path.exists()
    log.append([b'{"n":4}'])
    assert path.with_name("log.jsonl.1").read_bytes() == b'{"n":1}\n{"n":2}\n{"n":3}\n'
    log.close()
    reopened = RotatingJsonLines(path, max_bytes=20)  # continues the current file's size
    reopened.append([b'{"n":5}', b'{"n":6}'])  # 8 + 16 = 24: rotates, dropping 1-3
    reopened.close()
    assert [line.value for line in read_json_lines(path)] == [
        {"n": 4}, {"n": 5}, {"n": 6},
    ]  # fmt: skip


def test_two_writers_taking_turns_rotate_one_file_between_them(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    one, two = RotatingJsonLines(path, max_bytes=20), RotatingJsonLines(path, max_bytes=20)
    one.append([b'{"n":1}'])
    two.append([b'{"n":2}'])  # 16 bytes in one file
    one.append([b'{"n":3}'])  # 24: one rotates
    two.append([b'{"n":4}'])  # into the new file, not the rotated one
    one.append([b'{"n":5}', b'{"n":6}'])  # 24: rotates again
    one.close()
    two.close()
    assert path.with_name("log.jsonl.1").read_bytes() == b'{"n":4}\n{"n":5}\n{"n":6}\n'
    assert not path.exists()


def test_reading_reports_bad_lines_with_numbers(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(b'{"ok":1}\n\n{"cut\n[1]\n\xff\xfe\n{"ok":2}\n')
    assert list(read_json_lines(path)) == [
        JsonLine(path, 1, {"ok": 1}),
        JsonLine(path, 3, None, "not JSON"),
        JsonLine(path, 4, None, "not a JSON object"),
        JsonLine(path, 5, None, "not JSON"),
        JsonLine(path, 6, {"ok": 2}),
    ]


def test_missing_files_read_as_empty(tmp_path: Path) -> None:
    assert list(read_json_lines(tmp_path / "absent.jsonl")) == []
