"""What a call does to the sessions (sv_otel.sessions.run), through the processor with a fake clock.

Starts, ends an event finds due, previous ids, start metadata, eviction, replays, recorded events.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from sv_otel import Event
from sv_otel.sessions import SessionConfig, SessionLifecycleProcessor
from sv_otel.sessions.run import MAX_ID_CHARS
from tests.sessions._helpers import T0, attributes, ev, log_record

MINUTE = 60_000
CONFIG = SessionConfig(inactivity_timeout=1800, max_duration=4 * 3600)


def _names(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.event, e.session_id) for e in events]


def test_the_first_event_of_a_session_is_preceded_by_session_start(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    first = ev("$pageview", T0, user="u1")
    out = processor.process([first, ev("$click", T0 + 500)], now_ms=0)
    assert _names(out) == [("session.start", "s1"), ("$pageview", "s1"), ("$click", "s1")]
    start = out[0]
    assert (start.timestamp, start.user_id, start.anonymous_id, start.properties) == (
        T0, "u1", "a1", {},
    )  # fmt: skip
    record = log_record(start)
    assert record.event_name == "session.start"
    assert attributes(record) == {"session.id": "s1", "user.id": "u1", "enduser.pseudo.id": "a1"}
    assert _names(processor.process([ev("$click", T0 + 900)], now_ms=1_000)) == [("$click", "s1")]
    assert len(processor) == 1
    processor.close()


def test_an_event_after_the_timeout_but_before_a_poll_ends_the_session_first(
    tmp_path: Path,
) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    processor.process([ev("$pageview", T0)], now_ms=0)
    out = processor.process([ev("$click", T0 + 31 * MINUTE)], now_ms=31 * MINUTE)
    assert _names(out) == [("session.end", "s1"), ("$click", "s1")]
    assert out[0].properties["$session.events_count"] == 1
    processor.close()


def test_an_event_past_the_maximum_duration_ends_the_session_and_passes(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, SessionConfig(max_duration=3600))
    processor.process([ev("$click", T0)], now_ms=0)
    for minute in range(20, 60, 20):
        processor.process([ev("$click", T0 + minute * MINUTE)], now_ms=minute * MINUTE)
    out = processor.process([ev("$click", T0 + 60 * MINUTE)], now_ms=60 * MINUTE)
    assert _names(out) == [("session.end", "s1"), ("$click", "s1")]
    assert out[0].properties["$session.end_reason"] == "max_duration"
    processor.close()


def test_session_previous_id_links_sessions_of_the_same_visitor(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    processor.process([ev("$pageview", T0, sid="s1", anon="a1")], now_ms=0)
    processor.poll(now_ms=31 * MINUTE)
    # Same anonymous id, new session: previous is s1.
    out = processor.process([ev("$pageview", T0 + 40 * MINUTE, sid="s2", anon="a1")], 40 * MINUTE)
    assert out[0].properties == {"session.previous_id": "s1"}
    assert attributes(log_record(out[0]))["session.previous_id"] == "s1"
    # s2 is identified mid-session as u1.
    processor.process([ev("$identify", T0 + 41 * MINUTE, sid="s2", user="u1")], 41 * MINUTE)
    # Another device (anonymous id a9) of user u1: previous is s2 (user id first).
    processor.close()
    restarted = SessionLifecycleProcessor(tmp_path, CONFIG)  # remembered across a restart
    out = restarted.process([ev("$pageview", T0, sid="s3", anon="a9", user="u1")], 50 * MINUTE)
    assert out[0].properties == {"session.previous_id": "s2"}
    # A brand-new visitor has no previous session.
    out = restarted.process([ev("$pageview", T0, sid="s4", anon="a4")], 50 * MINUTE)
    assert out[0].properties == {}
    # Two new sessions of one visitor in one batch: the second links to the first.
    out = restarted.process(
        [ev("$pageview", T0, sid="s5", anon="a5"), ev("$pageview", T0, sid="s6", anon="a5")],
        51 * MINUTE,
    )
    assert _names(out) == [
        ("session.start", "s5"), ("$pageview", "s5"), ("session.start", "s6"), ("$pageview", "s6"),
    ]  # fmt: skip
    assert (out[0].properties, out[2].properties) == ({}, {"session.previous_id": "s5"})
    restarted.close()


def test_a_session_id_past_the_bound_is_not_tracked_and_its_events_pass(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    longest, longer = "s" * MAX_ID_CHARS, "s" * (MAX_ID_CHARS + 1)
    out = processor.process([ev(sid=longest), ev(sid=longer), ev("$click", sid=longer)], 0)
    assert _names(out) == [
        ("session.start", longest), ("$pageview", longest), ("$pageview", longer),
        ("$click", longer),
    ]  # fmt: skip
    assert len(processor) == 1
    assert processor._store.counts()["sessions"] == 1
    processor.close()


def test_a_visitor_id_past_the_bound_links_no_sessions(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    long_user, long_anon = "u" * (MAX_ID_CHARS + 1), "a" * (MAX_ID_CHARS + 1)
    processor.process([ev(sid="s1", anon=long_anon, user=long_user)], now_ms=0)
    processor.process([ev("$identify", sid="s1", anon=long_anon, user=long_user + "!")], 0)
    assert processor._store.counts()["identities"] == 0  # nothing of them on disk
    out = processor.process([ev(sid="s2", anon=long_anon, user=long_user)], now_ms=0)
    assert out[0].properties == {}  # no session.previous_id
    # A short anonymous id next to a long user id still links.
    processor.process([ev(sid="s3", anon="a3", user=long_user)], now_ms=0)
    out = processor.process([ev(sid="s4", anon="a3", user=long_user)], now_ms=0)
    assert out[0].properties == {"session.previous_id": "s3"}
    processor.close()


def test_the_start_event_carries_the_metadata_of_a_start_call(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    start_call = ev("$start", T0, user="jane", tenant="acme", dollar_continued=False)
    out = processor.process([start_call], now_ms=0)
    assert out[0].event == "session.start"
    assert attributes(log_record(out[0])) == {
        "session.id": "s1", "user.id": "jane", "enduser.pseudo.id": "a1", "tenant": "acme",
    }  # fmt: skip
    [end] = processor.shutdown(now_ms=1)
    assert end.properties["tenant"] == "acme"
    processor.close()


def test_the_cap_evicts_the_least_recently_active_session(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, SessionConfig(max_sessions=2))
    processor.process([ev(sid="s1"), ev(sid="s2")], now_ms=0)
    processor.process([ev("$click", sid="s1")], now_ms=10)  # s1 is now the most recent
    out = processor.process([ev(sid="s3")], now_ms=20)
    assert _names(out) == [("session.start", "s3"), ("$pageview", "s3"), ("session.end", "s2")]
    assert out[2].properties["$session.end_reason"] == "evicted"
    assert len(processor) == 2
    evicted_late = ev("$click", sid="s2")
    assert processor.process([evicted_late], now_ms=30) == [evicted_late]
    processor.close()


def test_the_memory_bound_evicts_the_least_recently_active_sessions(tmp_path: Path) -> None:
    def heavy(sid: str) -> Event:  # about 7.8 KB of traits
        return ev("$identify", sid=sid, **{f"t{i}": f"{sid}{i}" + "x" * 1000 for i in range(7)})

    config = SessionConfig(max_memory_bytes=20_000)
    processor = SessionLifecycleProcessor(tmp_path, config)
    processor.process([heavy("s1"), heavy("s2")], now_ms=0)
    processor.process([ev("$click", sid="s1")], now_ms=10)  # s1 is now the most recent
    out = processor.process([heavy("s3")], now_ms=20)
    assert _names(out) == [("session.start", "s3"), ("$identify", "s3"), ("session.end", "s2")]
    assert out[2].properties["$session.end_reason"] == "evicted"
    assert len(processor) == 2
    # Small sessions still fit beside them; ending one frees its share.
    out = processor.process([ev(sid=f"small{i}") for i in range(3)], now_ms=30)
    assert [name for name, _ in _names(out)].count("session.end") == 0
    processor.close()

    # A restart counts the memory of the sessions it takes over.
    processor = SessionLifecycleProcessor(tmp_path, config)
    out = processor.process([heavy("s4")], now_ms=40)
    assert ("session.end", "s1") in _names(out)  # the least recently active heavy one
    assert len(processor) == 5
    # One session alone over the bound is kept: it is the one being tracked.
    tiny = SessionLifecycleProcessor(tmp_path / "tiny", SessionConfig(max_memory_bytes=1000))
    out = tiny.process([heavy("alone")], now_ms=0)
    assert _names(out) == [("session.start", "alone"), ("$identify", "alone")]
    assert len(tiny) == 1
    tiny.close()
    processor.close()


def test_replayed_lifecycle_events_change_nothing(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    out = processor.process([ev()], now_ms=0)
    replay = processor.process(out, now_ms=1)
    assert replay == out  # session.start passes through, the event counts again
    assert len(processor) == 1
    lone = ev("session.end", sid="other")
    assert processor.process([lone], now_ms=2) == [lone]
    assert len(processor) == 1
    processor.close()


def test_events_are_recorded_up_to_the_cap_with_lifecycle_events(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, SessionConfig(record_events=2))
    processor.process([ev("$pageview", T0 + i) for i in range(5)], now_ms=0)
    processor.shutdown(now_ms=1)
    lines = (tmp_path / "sessions" / "events.jsonl").read_bytes().splitlines()
    names = [msgspec.json.decode(line)["event"] for line in lines]
    assert names == ["session.start", "$pageview", "$pageview", "session.end"]
