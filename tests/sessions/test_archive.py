"""Reading a data directory: duplicate summaries, open sessions, missing sessions."""

from __future__ import annotations

from pathlib import Path

import pytest

from sv_otel.errors import ConfigurationError, SessionNotFoundError
from sv_otel.sessions import SessionConfig, SessionLifecycleProcessor, list_sessions, show_session
from tests.sessions._helpers import T0, ev


def test_a_summary_written_twice_is_listed_once_the_last_winning(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path)
    processor.process([ev("$pageview", T0)], now_ms=0)
    processor.shutdown(now_ms=1)
    summaries = tmp_path / "sessions" / "summaries.jsonl"
    first = summaries.read_bytes()
    summaries.write_bytes(first.replace(b'"events_count":1', b'"events_count":7') + first)
    listing = list_sessions(tmp_path)
    assert [d["events_count"] for d in listing.documents] == [1]
    assert listing.bad_lines == []


def test_open_sessions_use_the_recorded_project_and_url(tmp_path: Path) -> None:
    config = SessionConfig(project_id="shop", session_url="https://r.example/{session_id}")
    processor = SessionLifecycleProcessor(tmp_path, config)
    processor.process([ev("$pageview", T0, sid="abc")], now_ms=0)
    [document] = list_sessions(tmp_path).documents
    assert (document["project_id"], document["url"]) == ("shop", "https://r.example/abc")
    record = show_session(tmp_path, "abc")
    assert record.to_json()["session"] == document
    processor.close()


def test_a_missing_session_or_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SessionNotFoundError) as caught:
        show_session(tmp_path, "nope")
    assert caught.value.message == f"no session 'nope' in {tmp_path / 'sessions'}"
    assert caught.value.status_hint == 404
    with pytest.raises(ConfigurationError, match="not a directory"):
        list_sessions(tmp_path / "absent")
