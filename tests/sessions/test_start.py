"""The sans-I/O start logic: which session an answer names, and the events it yields."""

from __future__ import annotations

import urllib.parse

import msgspec
import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.sessions.start import SessionStarter, StartRequest, parse_start_request
from sv_otel.sessions.token import sign_session_token, verify_session_token

SECRET = b"0123456789abcdef0123456789abcdef"
NOW = 1_700_000_000.0
USER_UUID = "550e8400-e29b-41d4-a716-446655440000"


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _starter(clock: Clock, ended: set[str] | None = None, ttl: int = 3600) -> SessionStarter:
    ended = ended if ended is not None else set()
    ids = iter(range(1, 1000))
    return SessionStarter(
        secret=SECRET,
        ttl_seconds=ttl,
        has_ended=ended.__contains__,
        clock=clock,
        new_session_id=lambda: f"session-{next(ids)}",
    )


def _body(**fields: object) -> bytes:
    return msgspec.json.encode(fields)


def test_a_first_start_makes_a_session_a_token_and_a_start_event() -> None:
    clock = Clock()
    result = _starter(clock).handle(
        _body(userID="jane@example.com", metadata={"plan": "pro", "tenant": "acme"})
    )
    assert result.status == 200
    token = result.body["sessionToken"]
    assert isinstance(token, str)
    assert result.body == {
        "success": True,
        "sessionID": "session-1",
        "sessionToken": token,
        "userUUID": result.body["userUUID"],
        "sessionHash": token,
    }
    assert verify_session_token(token, secret=SECRET, now=NOW + 3599) == "session-1"
    assert verify_session_token(token, secret=SECRET, now=NOW + 3600) is None
    [event] = result.events
    assert event.event == "$start"
    assert event.timestamp == int(NOW * 1000)
    assert event.session_id == "session-1"
    assert event.user_id == "jane@example.com"
    assert event.anonymous_id == result.body["userUUID"]
    assert event.properties == {"plan": "pro", "tenant": "acme", "$continued": False}


def test_a_refresh_keeps_the_session_and_its_token() -> None:
    clock = Clock()
    starter = _starter(clock)
    first = starter.handle(_body(userUUID=USER_UUID))
    assert first.body["userUUID"] == USER_UUID
    clock.now += 600
    again = starter.handle(_body(sessionToken=first.body["sessionToken"], userUUID=USER_UUID))
    assert again.body == first.body
    assert again.events[0].properties == {"$continued": True}


def test_force_new_starts_a_new_session_even_with_a_valid_token() -> None:
    starter = _starter(Clock())
    first = starter.handle(_body())
    forced = starter.handle(_body(sessionToken=first.body["sessionToken"], forceNew=True))
    assert forced.body["sessionID"] == "session-2"
    assert forced.body["sessionToken"] != first.body["sessionToken"]


def test_a_session_hash_continues_the_session_in_any_of_its_forms() -> None:
    starter = _starter(Clock())
    token = starter.handle(_body()).body["sessionToken"]
    assert isinstance(token, str)
    for session_hash in (token, f"3&{token}", urllib.parse.quote(f"12&{token}")):
        result = starter.handle(_body(sessionHash=session_hash))
        assert (result.status, result.body["sessionID"]) == (200, "session-1")
        assert result.body["sessionToken"] == token


def test_the_hash_wins_over_the_stored_token() -> None:
    starter = _starter(Clock())
    first = starter.handle(_body()).body["sessionToken"]
    second = starter.handle(_body(forceNew=True)).body["sessionToken"]
    result = starter.handle(_body(sessionHash=first, sessionToken=second))
    assert result.body["sessionID"] == "session-1"


def test_expired_tokens_and_hashes_start_a_new_session() -> None:
    clock = Clock()
    starter = _starter(clock, ttl=60)
    token = starter.handle(_body()).body["sessionToken"]
    clock.now += 60
    assert starter.handle(_body(sessionToken=token)).body["sessionID"] == "session-2"
    assert starter.handle(_body(sessionHash=token)).body["sessionID"] == "session-3"


def test_ended_sessions_are_not_continued() -> None:
    ended: set[str] = set()
    starter = _starter(Clock(), ended)
    token = starter.handle(_body()).body["sessionToken"]
    ended.add("session-1")
    assert starter.handle(_body(sessionToken=token)).body["sessionID"] == "session-2"
    assert starter.handle(_body(sessionHash=token)).body["sessionID"] == "session-3"


def test_a_stale_token_from_another_secret_silently_starts_anew() -> None:
    foreign = sign_session_token("x", secret=b"another secret of 32 bytes......", ttl_seconds=60,
                                 now=NOW)  # fmt: skip
    result = _starter(Clock()).handle(_body(sessionToken=foreign))
    assert (result.status, result.body["sessionID"]) == (200, "session-1")


def test_a_forged_hash_is_a_failure_without_events() -> None:
    foreign = sign_session_token("x", secret=b"another secret of 32 bytes......", ttl_seconds=60,
                                 now=NOW)  # fmt: skip
    result = _starter(Clock()).handle(_body(sessionHash=foreign))
    assert (result.status, result.body, result.events) == (
        401, {"success": False, "reason": "sessionHash: invalid signature"}, [],
    )  # fmt: skip


def test_an_empty_body_is_a_start_without_options() -> None:
    assert parse_start_request(b"  ") == StartRequest()
    assert _starter(Clock()).handle(b"").status == 200


def test_unknown_fields_are_ignored_and_uuid_case_is_normalised() -> None:
    request = parse_start_request(
        _body(projectKey="k", trackerVersion="16.0.0", userUUID=USER_UUID.upper(), userID="")
    )
    assert request == StartRequest(user_uuid=USER_UUID)


def test_half_an_emoji_is_text_not_a_refusal() -> None:
    # JSON.stringify writes a lone surrogate as an escape when a page cut an emoji in half.
    request = parse_start_request(b'{"userID": "ann\\ud83d", "metadata": {"plan": "\\ude00pro"}}')
    assert (request.user_id, request.metadata) == ("ann\ufffd", {"plan": "\ufffdpro"})


def test_a_short_secret_fails_at_construction() -> None:
    with pytest.raises(ConfigurationError, match="at least 16 bytes"):
        SessionStarter(secret=b"short")
