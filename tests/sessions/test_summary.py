"""Session summaries against a hand-computed fixture: the Highlight document and session.end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from jsonschema import ValidationError

from sv_otel import Event
from sv_otel.sessions import SessionConfig, SessionLifecycleProcessor
from sv_otel.sessions.state import SessionState, new_state, observe
from sv_otel.sessions.summary import end_properties, format_time, highlight_document
from tests.sessions._helpers import T0, attributes, ev, highlight_validator, log_record

UA = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_3) AppleWebKit/605.1.15 Safari/605.1.15"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
AUTO = {
    "dollar_current_url": "https://shop.example.com/",
    "dollar_browser": "Safari",
    "dollar_os": "macOS",
    "dollar_device_type": "desktop",
    "app_version": "2.1.0",
    "environment": "production",
}


def fixture_events() -> list[Event]:
    """One session, in arrival order; the comments carry the hand computation."""
    return [
        # metadata {tenant: acme} (from the start endpoint); starts the session at T0
        ev("$start", T0, tenant="acme", dollar_continued=False),
        # +1 s (active 1 000); UA, language and SDK version; registers app_version/environment
        ev("$pageview", T0 + 1_000, **AUTO, dollar_user_agent=UA, dollar_language="en-US",
           dollar_lib_version="1.4.2"),
        ev("$click", T0 + 10_000, **AUTO),  # +9 s (active 10 000)
        # +15 s (active 25 000); identified; traits company (from $set), email, name, plan
        ev("$identify", T0 + 25_000, user="user_456", dollar_set={"company": "Acme"},
           email="jane@example.com", name="Jane Smith", plan="enterprise",
           app_version="2.1.0", environment="production"),
        # +15 s (active 40 000); an error
        ev("$exception", T0 + 40_000, user="user_456", message="boom", type="TypeError"),
        # +160 s: idle (over the 60 s gap), not counted; the second page
        ev("$pageview", T0 + 200_000, user="user_456", **AUTO),
        # +30 s (active 70 000)
        ev("purchase_completed", T0 + 230_000, user="user_456", amount=49.99, currency="USD"),
        # +1 s (active 71 000); a backend span linking a trace
        ev("$span", T0 + 231_000, user="user_456", trace_id=TRACE, name="GET /api/cart",
           kind="server"),
        # arrives last but happened 5 s before the start: started_at moves back (active 76 000)
        ev("$click", T0 - 5_000, user="user_456", **AUTO),
    ]  # fmt: skip


def fixture_state() -> SessionState:
    events = fixture_events()
    state = new_state(events[0], now_ms=0, previous_id="s0")
    for event in events:
        observe(state, event, now_ms=0, idle_gap_ms=60_000)
    return state


EXPECTED_FIELDS = [
    {"name": "tenant", "value": "acme", "type": "session"},
    {"name": "app_version", "value": "2.1.0", "type": "session"},
    {"name": "environment", "value": "production", "type": "session"},
    {"name": "device_type", "value": "desktop", "type": "session"},
    {"name": "company", "value": "Acme", "type": "user"},
    {"name": "email", "value": "jane@example.com", "type": "user"},
    {"name": "name", "value": "Jane Smith", "type": "user"},
    {"name": "plan", "value": "enterprise", "type": "user"},
]

EXPECTED_DOCUMENT: dict[str, Any] = {
    "secure_id": "s1",
    "project_id": "shop",
    "identifier": "user_456",
    "client_id": "a1",
    "user_object": {
        "company": "Acme",
        "email": "jane@example.com",
        "name": "Jane Smith",
        "plan": "enterprise",
    },
    "fields": EXPECTED_FIELDS,
    "environment": "production",
    "app_version": "2.1.0",
    "client_version": "1.4.2",
    "user_agent": UA,
    "language": "en-US",
    "browser_name": "Safari",
    "os_name": "macOS",
    "started_at": "2024-03-07T23:59:55.000Z",
    "last_active_at": "2024-03-08T00:03:51.000Z",
    "active_length": 76_000,
    "length": 236_000,
    "events_count": 9,
    "errors_count": 1,
    "pages_visited": 2,
    "identified": True,
    "has_errors": True,
    "url": "https://replay.example.com/sessions/s1",
    "processed": True,
    "sv_otel": {"end_reason": "timeout", "previous_id": "s0", "trace_ids": [TRACE]},
}

CONFIG = SessionConfig(
    project_id="shop", session_url="https://replay.example.com/sessions/{session_id}"
)


def test_the_highlight_document_matches_the_hand_computed_fixture() -> None:
    document = highlight_document(fixture_state(), CONFIG, end_reason="timeout")
    assert document == EXPECTED_DOCUMENT
    highlight_validator().validate(document)


def test_session_end_attributes_match_the_hand_computed_fixture() -> None:
    state = fixture_state()
    end = Event(
        event="session.end",
        timestamp=state.last_active_at,
        properties=end_properties(state, "timeout"),
        user_id=state.user_id,
        anonymous_id=state.anonymous_id,
        session_id=state.session_id,
    )
    record = log_record(end)
    assert record.event_name == "session.end"
    assert record.time_unix_nano == (T0 + 231_000) * 1_000_000
    assert attributes(record) == {
        "session.id": "s1",
        "user.id": "user_456",
        "enduser.pseudo.id": "a1",
        "tenant": "acme",
        "sessionvision.session.end_reason": "timeout",
        "sessionvision.session.started_at": T0 - 5_000,
        "sessionvision.session.last_active_at": T0 + 231_000,
        "sessionvision.session.active_length": 76_000,
        "sessionvision.session.length": 236_000,
        "sessionvision.session.events_count": 9,
        "sessionvision.session.errors_count": 1,
        "sessionvision.session.pages_count": 2,
        "sessionvision.session.user_object": {
            "company": "Acme",
            "email": "jane@example.com",
            "name": "Jane Smith",
            "plan": "enterprise",
        },
        "sessionvision.session.registered": {"app_version": "2.1.0", "environment": "production"},
        "user_agent.original": UA,
        "browser.language": "en-US",
        "service.version": "2.1.0",
        "deployment.environment.name": "production",
        "sessionvision.session.client_version": "1.4.2",
        "user_agent.name": "Safari",
        "user_agent.os.name": "macOS",
        "sessionvision.device_type": "desktop",
        "sessionvision.session.trace_ids": [TRACE],
    }


def test_an_anonymous_one_event_session_has_the_minimal_document() -> None:
    state = new_state(ev("$pageview", T0, anon=None), now_ms=0, previous_id=None)
    observe(state, ev("$pageview", T0, anon=None), now_ms=0, idle_gap_ms=60_000)
    document = highlight_document(state, SessionConfig(), end_reason=None)
    assert document == {
        "secure_id": "s1",
        "project_id": "sv_otel",
        "fields": [],
        "started_at": "2024-03-08T00:00:00.000Z",
        "last_active_at": "2024-03-08T00:00:00.000Z",
        "active_length": 0,
        "length": 0,
        "events_count": 1,
        "errors_count": 0,
        "pages_visited": 1,
        "identified": False,
        "has_errors": False,
        "processed": False,
        "sv_otel": {"trace_ids": []},
    }
    highlight_validator().validate(document)


def test_the_validator_really_checks_formats_and_types() -> None:
    validator = highlight_validator()
    with pytest.raises(ValidationError, match="is not a 'date-time'"):
        validator.validate({"secure_id": "s", "project_id": "p", "started_at": "yesterday"})
    with pytest.raises(ValidationError, match="is not a 'uri'"):
        validator.validate({"secure_id": "s", "project_id": "p", "url": "not a uri"})
    with pytest.raises(ValidationError, match="'project_id' is a required property"):
        validator.validate({"secure_id": "s"})


@pytest.mark.parametrize(
    ("epoch_ms", "text"),
    [
        (0, "1970-01-01T00:00:00.000Z"),
        (T0 + 1, "2024-03-08T00:00:00.001Z"),
        (951_782_400_999, "2000-02-29T00:00:00.999Z"),
        (18_446_744_073_709, "2554-07-21T23:34:33.709Z"),
    ],
)
def test_times_are_rfc3339_utc_with_milliseconds(epoch_ms: int, text: str) -> None:
    assert format_time(epoch_ms) == text


def test_every_summary_the_processor_writes_validates(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, CONFIG)
    out = processor.process(fixture_events(), now_ms=1_000)
    assert [e.event for e in out][:2] == ["session.start", "$start"]
    ended = processor.shutdown(now_ms=2_000)
    assert [e.event for e in ended] == ["session.end"]
    lines = (tmp_path / "sessions" / "summaries.jsonl").read_bytes().splitlines()
    assert len(lines) == 1
    document = msgspec.json.decode(lines[0])
    highlight_validator().validate(document)
    expected = dict(EXPECTED_DOCUMENT, sv_otel={"end_reason": "shutdown", "trace_ids": [TRACE]})
    assert document == expected
