"""``sv-otel sessions list`` / ``show`` run as real subprocesses over a real data directory."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from sv_otel.sessions import SessionConfig, SessionLifecycleProcessor
from tests.sessions._helpers import T0, ev, highlight_validator

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CONFIG = SessionConfig(project_id="shop", inactivity_timeout=1800)


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sv_otel.cli", "sessions", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _record(data_dir: Path) -> SessionLifecycleProcessor:
    """s1 ended (two events and a backend span); s2 still open."""
    processor = SessionLifecycleProcessor(data_dir, CONFIG)
    processor.process(
        [
            ev("$pageview", T0, sid="s1", user="u1"),
            ev("$span", T0 + 500, sid="s1", user="u1", trace_id=TRACE, name="GET /api"),
        ],
        now_ms=0,
    )
    processor.poll(now_ms=31 * 60_000)
    processor.process([ev("$pageview", T0 + 1, sid="s2")], now_ms=32 * 60_000)
    return processor


def test_list_prints_ended_then_open_sessions_one_document_a_line(tmp_path: Path) -> None:
    processor = _record(tmp_path)
    for _ in range(2):  # while the gateway runs, and after it stopped
        result = _run("list", "--data-dir", str(tmp_path))
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        documents = [msgspec.json.decode(line) for line in result.stdout.splitlines()]
        assert [(d["secure_id"], d["processed"]) for d in documents] == [
            ("s1", True), ("s2", False),
        ]  # fmt: skip
        assert {d["project_id"] for d in documents} == {"shop"}
        assert documents[0]["events_count"] == 2
        assert documents[0]["sv_otel"] == {"end_reason": "timeout", "trace_ids": [TRACE]}
        validator = highlight_validator()
        for document in documents:
            validator.validate(document)
        processor.close()


def test_show_prints_the_document_events_and_linked_traces(tmp_path: Path) -> None:
    _record(tmp_path).close()
    result = _run("show", "s1", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    shown = msgspec.json.decode(result.stdout)
    assert shown["session"]["secure_id"] == "s1"
    assert [e["event"] for e in shown["events"]] == [
        "session.start", "$pageview", "$span", "session.end",
    ]  # fmt: skip
    assert {e["sessionId"] for e in shown["events"]} == {"s1"}
    assert shown["trace_ids"] == [TRACE]
    open_session = msgspec.json.decode(_run("show", "s2", "--data-dir", str(tmp_path)).stdout)
    assert open_session["session"]["processed"] is False
    assert [e["event"] for e in open_session["events"]] == ["session.start", "$pageview"]
    assert open_session["trace_ids"] == []


def test_unreadable_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    _record(tmp_path).close()
    summaries = tmp_path / "sessions" / "summaries.jsonl"
    with summaries.open("ab") as out:
        out.write(b'{"secure_id": "cut sh\n[1, 2]\n{"no": "id"}\n')
    result = _run("list", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    assert [msgspec.json.decode(x)["secure_id"] for x in result.stdout.splitlines()] == ["s1", "s2"]
    assert result.stderr.splitlines() == [
        f"sv-otel sessions: {summaries} line 2: not JSON, skipped",
        f"sv-otel sessions: {summaries} line 3: not a JSON object, skipped",
        f"sv-otel sessions: {summaries} line 4: no secure_id, skipped",
    ]


def test_an_empty_data_directory_lists_nothing(tmp_path: Path) -> None:
    result = _run("list", "--data-dir", str(tmp_path))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "nope", "--data-dir", "{dir}"],
         "sv-otel sessions: no session 'nope' in {dir}/sessions\n"),
        (["list", "--data-dir", "{dir}/missing"],
         "sv-otel sessions: --data-dir {dir}/missing: not a directory\n"),
    ],
)  # fmt: skip
def test_errors_are_one_line_and_exit_1(tmp_path: Path, args: list[str], message: str) -> None:
    result = _run(*[a.replace("{dir}", str(tmp_path)) for a in args])
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == message.replace("{dir}", str(tmp_path))


def test_a_corrupt_state_database_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "state.sqlite3").write_bytes(b"garbage" * 1000)
    result = _run("list", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        f"sv-otel sessions: {tmp_path}/sessions/state.sqlite3: unreadable session state "
        "(file is not a database)\n"
    )


def test_an_action_is_required() -> None:
    result = _run()
    assert result.returncode == 2
    assert "the following arguments are required: ACTION" in result.stderr
