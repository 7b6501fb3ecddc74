"""The lifecycle processor with a fake clock: polling, restarts, shutdown, shared state, failures.

What each call does to the sessions it sees (starts, ends, previous ids) is in test_run.py.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import msgspec
import pytest

from sv_otel import Event
from sv_otel.errors import ConfigurationError, QueueFullError
from sv_otel.sessions import SessionConfig, SessionLifecycleProcessor
from tests.sessions._helpers import T0, ev, highlight_validator

MINUTE = 60_000
CONFIG = SessionConfig(inactivity_timeout=1800, max_duration=4 * 3600)


class EventProcessor(Protocol):
    """The gateway's processor protocol: mypy checks the processor against it structurally."""

    name: str

    def process(self, events: Sequence[Event], now_ms: int) -> list[Event]: ...
    def poll(self, now_ms: int) -> list[Event]: ...
    def shutdown(self, now_ms: int) -> list[Event]: ...


def test_it_is_an_event_processor(tmp_path: Path) -> None:
    processor: EventProcessor = SessionLifecycleProcessor(tmp_path, CONFIG)
    assert processor.name == "sessions"
    assert (processor.process([], 0), processor.poll(0), processor.shutdown(0)) == ([], [], [])


def _names(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.event, e.session_id) for e in events]


def _summaries(tmp_path: Path) -> list[dict[str, object]]:
    path = tmp_path / "sessions" / "summaries.jsonl"
    return [msgspec.json.decode(line) for line in path.read_bytes().splitlines()]


def test_an_idle_session_ends_after_the_inactivity_timeout(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    processor.process([ev("$pageview", T0)], now_ms=0)
    processor.process([ev("$click", T0 + MINUTE)], now_ms=MINUTE)
    assert processor.poll(now_ms=MINUTE + 30 * MINUTE - 1) == []
    out = processor.poll(now_ms=MINUTE + 30 * MINUTE)
    assert _names(out) == [("session.end", "s1")]
    end = out[0]
    assert end.timestamp == T0 + MINUTE
    assert end.properties["$session.end_reason"] == "timeout"
    assert end.properties["$session.events_count"] == 2
    assert end.properties["$session.active_length"] == MINUTE
    assert len(processor) == 0
    assert processor.has_ended("s1")
    # A late event of the ended session passes through; it never starts the session again.
    late = ev("$click", T0 + 40 * MINUTE)
    assert processor.process([late], now_ms=41 * MINUTE) == [late]
    assert processor.poll(now_ms=10**9) == []
    [summary] = _summaries(tmp_path)
    highlight_validator().validate(summary)
    assert summary["events_count"] == 2
    processor.close()


def test_a_busy_session_ends_at_the_maximum_duration(tmp_path: Path) -> None:
    config = SessionConfig(inactivity_timeout=1800, max_duration=3600)
    processor = SessionLifecycleProcessor(tmp_path, config)
    for minute in range(0, 60, 10):
        processor.process([ev("$click", T0 + minute * MINUTE)], now_ms=minute * MINUTE)
        assert processor.poll(now_ms=minute * MINUTE) == []
    assert processor.poll(now_ms=60 * MINUTE - 1) == []
    [end] = processor.poll(now_ms=60 * MINUTE)
    assert end.event == "session.end"
    assert end.properties["$session.end_reason"] == "max_duration"
    assert end.properties["$session.events_count"] == 6
    assert end.properties["$session.active_length"] == 0  # 10-minute gaps are all idle
    assert end.properties["$session.length"] == 50 * MINUTE
    processor.close()


def test_a_restart_in_the_middle_continues_the_session(tmp_path: Path) -> None:
    first = SessionLifecycleProcessor(tmp_path, CONFIG)
    out = first.process([ev("$pageview", T0), ev("$click", T0 + 1_000)], now_ms=0)
    assert [e.event for e in out] == ["session.start", "$pageview", "$click"]
    first.close()  # as a crash leaves it: nothing ended, state on disk
    second = SessionLifecycleProcessor(tmp_path, CONFIG)
    assert len(second) == 1
    out = second.process([ev("$click", T0 + 2_000, user="u1")], now_ms=2_000)
    assert [e.event for e in out] == ["$click"]  # no second session.start
    assert second.poll(now_ms=2_000 + 30 * MINUTE - 1) == []  # the clock survived too
    [end] = second.poll(now_ms=2_000 + 30 * MINUTE)
    assert end.properties["$session.events_count"] == 3
    assert end.properties["$session.active_length"] == 2_000
    assert end.user_id == "u1"
    second.close()


def test_a_graceful_restart_without_end_on_shutdown_continues_the_session(
    tmp_path: Path,
) -> None:
    config = SessionConfig(end_on_shutdown=False)
    first = SessionLifecycleProcessor(tmp_path, config)
    first.process([ev("$pageview", T0)], now_ms=0)
    assert first.shutdown(now_ms=1_000) == []
    assert first.shutdown(now_ms=1_000) == []  # once only
    second = SessionLifecycleProcessor(tmp_path, config)
    assert [e.event for e in second.process([ev("$click", T0 + 5)], now_ms=2_000)] == ["$click"]
    assert second.shutdown(now_ms=3_000) == []
    third = SessionLifecycleProcessor(tmp_path, SessionConfig())
    [end] = third.shutdown(now_ms=4_000)
    assert end.properties["$session.events_count"] == 2
    assert end.properties["$session.end_reason"] == "shutdown"


def test_shutdown_ends_every_session_and_they_never_start_again(tmp_path: Path) -> None:
    first = SessionLifecycleProcessor(tmp_path, CONFIG)
    first.process([ev("$pageview", T0, sid="s1"), ev("$pageview", T0, sid="s2")], now_ms=0)
    out = first.shutdown(now_ms=5_000)
    assert _names(out) == [("session.end", "s1"), ("session.end", "s2")]
    assert {e.properties["$session.end_reason"] for e in out} == {"shutdown"}
    with pytest.raises(ConfigurationError, match="the session processor is shut down"):
        first.process([ev()], now_ms=6_000)
    second = SessionLifecycleProcessor(tmp_path, CONFIG)
    late = ev("$click", T0 + 10, sid="s1")
    assert second.process([late], now_ms=6_000) == [late]
    assert len(second) == 0
    assert [s["secure_id"] for s in _summaries(tmp_path)] == ["s1", "s2"]
    second.close()


def test_two_processors_on_one_directory_share_their_sessions(tmp_path: Path) -> None:
    # As two workers of one gateway: a session's events land on either.
    one = SessionLifecycleProcessor(tmp_path, CONFIG)
    two = SessionLifecycleProcessor(tmp_path, CONFIG)
    assert _names(one.process([ev("$pageview", T0)], now_ms=0)) == [
        ("session.start", "s1"), ("$pageview", "s1"),
    ]  # fmt: skip
    assert _names(two.process([ev("$click", T0 + 1_000)], now_ms=1_000)) == [("$click", "s1")]
    assert one.poll(now_ms=1_000 + 30 * MINUTE - 1) == []  # two's event counted for one too
    [end] = two.poll(now_ms=1_000 + 30 * MINUTE)
    assert end.properties["$session.events_count"] == 2
    assert one.poll(now_ms=10**9) == []  # ended once
    assert one.has_ended("s1")
    late = ev("$click", T0 + 2_000)
    assert one.process([late], now_ms=10**9) == [late]
    # The visitor's next session, started on the other processor, links to s1.
    out = two.process([ev("$pageview", T0, sid="s2")], now_ms=10**9)
    assert out[0].properties == {"session.previous_id": "s1"}
    assert one.summary("s2") is not None
    one.close()
    two.close()


def test_the_cap_counts_the_sessions_of_every_processor_on_the_directory(
    tmp_path: Path,
) -> None:
    one = SessionLifecycleProcessor(tmp_path, SessionConfig(max_sessions=2))
    two = SessionLifecycleProcessor(tmp_path, SessionConfig(max_sessions=2))
    one.process([ev(sid="s1")], now_ms=0)
    two.process([ev(sid="s2")], now_ms=10)
    out = one.process([ev(sid="s3")], now_ms=20)
    assert _names(out) == [("session.start", "s3"), ("$pageview", "s3"), ("session.end", "s1")]
    assert (len(one), two.summary("s1"), two.summary("s3") is not None) == (2, None, True)
    assert [e.event for e in two.shutdown(now_ms=30)] == ["session.end", "session.end"]
    assert one.shutdown(now_ms=40) == []
    assert [s["secure_id"] for s in _summaries(tmp_path)] == ["s1", "s2", "s3"]


def test_an_unusable_directory_is_a_configuration_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigurationError, match=r"file/sessions: cannot use it"):
        SessionLifecycleProcessor(blocker, CONFIG)


def test_corrupt_state_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "sessions").mkdir()
    (tmp_path / "sessions" / "state.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(ConfigurationError, match=r"state.sqlite3: file is not a database"):
        SessionLifecycleProcessor(tmp_path, CONFIG)
    # The lock was released: a good directory next to it still works.
    (tmp_path / "sessions" / "state.sqlite3").unlink()
    SessionLifecycleProcessor(tmp_path, CONFIG).close()


def test_the_summary_of_an_open_session(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    assert processor.summary("s1") is None
    processor.process([ev()], now_ms=0)
    summary = processor.summary("s1")
    assert summary is not None
    assert (summary["secure_id"], summary["processed"]) == ("s1", False)
    highlight_validator().validate(summary)
    processor.close()


def test_a_failed_save_changes_nothing_and_asks_to_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    processor.process([ev(sid="s1")], now_ms=0)

    def full_disk(changes: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    with monkeypatch.context() as patch:  # a full disk cannot be made here
        patch.setattr(processor._store, "commit", full_disk)
        with pytest.raises(QueueFullError) as caught:
            processor.process([ev("$click", sid="s1"), ev(sid="s2")], now_ms=10)
    assert caught.value.message == (
        "session state: could not be saved (database or disk is full); try again"
    )
    assert caught.value.retry_after == 1.0
    assert len(processor) == 1
    # The client sends the batch again: s2 starts now, s1 counts its click once.
    out = processor.process([ev("$click", sid="s1"), ev(sid="s2")], now_ms=20)
    assert _names(out) == [("$click", "s1"), ("session.start", "s2"), ("$pageview", "s2")]
    ends = processor.shutdown(now_ms=30)
    assert [e.properties["$session.events_count"] for e in ends] == [2, 1]


def test_a_batch_that_fails_midway_leaves_the_tracked_sessions_as_they_were(
    tmp_path: Path,
) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    processor.process([ev(sid="s1")], now_ms=0)
    # Not text: parse_batch refuses such an event, but a processor cannot assume its caller did.
    unwritable = ev("$click", sid="s2", x="\ud800")
    with pytest.raises(UnicodeEncodeError):
        processor.process([ev(sid="s2"), unwritable], now_ms=10)
    assert len(processor) == 1  # s2, started in place before the failure, is not tracked
    assert processor.summary("s2") is None
    out = processor.process([ev(sid="s2")], now_ms=20)
    assert _names(out) == [("session.start", "s2"), ("$pageview", "s2")]
    ends = processor.shutdown(now_ms=30)
    assert [e.properties["$session.events_count"] for e in ends] == [1, 1]


def test_an_unreadable_state_asks_to_retry_and_counts_sessions_as_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)

    def broken(ids: object) -> set[str]:
        raise sqlite3.OperationalError("disk I/O error")

    with monkeypatch.context() as patch:  # a failing disk cannot be made here
        patch.setattr(processor._store, "ended", broken)
        with pytest.raises(QueueFullError) as caught:
            processor.process([ev(sid="s1")], now_ms=0)
        assert (
            caught.value.message == "session state: could not be read (disk I/O error); try again"
        )
        assert processor.has_ended("s1") is False
    assert len(processor) == 0
    assert [e.event for e in processor.process([ev(sid="s1")], now_ms=1)] == [
        "session.start", "$pageview",
    ]  # fmt: skip
    processor.close()
