"""Which carrier wins, and what each carrier yields."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from sv_otel.linking.carriers import (
    HEADERS,
    SESSION_PRECEDENCE,
    HeaderGetter,
    TokenVerifier,
    read_identity,
)
from sv_otel.linking.identity import SessionIdentity
from tests.linking._apps import OPENREPLAY_TOKEN, REPLAY, SESSION, sign, verify


def getter(headers: Mapping[str, str | list[str]]) -> HeaderGetter:
    lowered = {key.lower(): value for key, value in headers.items()}

    def get(name: str) -> list[str] | None:
        value = lowered.get(name)
        if value is None:
            return None
        return [value] if isinstance(value, str) else value

    return get


def read(
    headers: Mapping[str, str | list[str]],
    token_verifier: TokenVerifier | None = None,
    require_signed: bool = False,
) -> SessionIdentity:
    return read_identity(
        getter(headers), token_verifier=token_verifier, require_signed=require_signed
    )


def test_the_browser_header_list() -> None:
    assert HEADERS == (
        "X-Sessionvision-Session-Id",
        "X-Sessionvision-User-Id",
        "X-Sessionvision-Anonymous-Id",
        "X-Sessionvision-Session-Token",
    )


def test_the_documented_precedence() -> None:
    assert [name for name, _ in SESSION_PRECEDENCE] == [
        "X-Sessionvision-Session-Id",
        "baggage session.id",
        "X-POSTHOG-SESSION-ID",
        "X-Highlight-Request",
        "X-OpenReplay-SessionToken",
        "baggage sentry-replay_id",
    ]


ALL_CARRIERS = {
    "X-Sessionvision-Session-Id": "own",
    "baggage": f"session.id=bag,sentry-replay_id={REPLAY}",
    "X-POSTHOG-SESSION-ID": "posthog",
    "X-Highlight-Request": "highlight/req",
    "X-OpenReplay-SessionToken": OPENREPLAY_TOKEN,
}


@pytest.mark.parametrize(
    ("drop", "expected", "carrier"),
    [
        ((), "own", "X-Sessionvision-Session-Id"),
        (("X-Sessionvision-Session-Id",), "bag", "baggage session.id"),
        (("X-Sessionvision-Session-Id", "baggage"), "posthog", "X-POSTHOG-SESSION-ID"),
        (
            ("X-Sessionvision-Session-Id", "baggage", "X-POSTHOG-SESSION-ID"),
            "highlight",
            "X-Highlight-Request",
        ),
        (
            (
                "X-Sessionvision-Session-Id",
                "baggage",
                "X-POSTHOG-SESSION-ID",
                "X-Highlight-Request",
            ),
            OPENREPLAY_TOKEN,
            "X-OpenReplay-SessionToken",
        ),
    ],
)
def test_conflicting_carriers_resolve_by_precedence(
    drop: tuple[str, ...], expected: str, carrier: str
) -> None:
    headers = {key: value for key, value in ALL_CARRIERS.items() if key not in drop}
    identity = read(headers)
    assert (identity.session_id, identity.carrier, identity.verified) == (expected, carrier, False)


def test_sentry_replay_id_is_the_last_resort() -> None:
    identity = read({"baggage": f"sentry-trace_id=abc,sentry-replay_id={REPLAY}"})
    assert (identity.session_id, identity.carrier) == (REPLAY, "baggage sentry-replay_id")


def test_a_rejected_value_falls_through_to_the_next_carrier() -> None:
    identity = read({"X-Sessionvision-Session-Id": "bad value", "baggage": "session.id=good"})
    assert identity.session_id == "good"


def test_a_header_sent_twice_with_different_values_is_skipped() -> None:
    assert read({"X-Sessionvision-Session-Id": ["a", "b"]}).session_id is None
    assert read({"X-Sessionvision-Session-Id": ["a", "a"]}).session_id == "a"
    assert read({"X-Sessionvision-Session-Id": "a,b"}).session_id is None  # joined by WSGI


def test_highlight_takes_the_session_part() -> None:
    assert read({"X-Highlight-Request": f"{SESSION}/1234567890"}).session_id == SESSION
    assert read({"X-Highlight-Request": f"{SESSION}"}).session_id == SESSION
    assert read({"X-Highlight-Request": "/req-only"}).session_id is None
    assert read({"X-Highlight-Request": "s" * 5000 + "/r"}).session_id is None


def test_client_ids_and_their_precedence() -> None:
    identity = read(
        {
            "X-Sessionvision-User-Id": "header-user",
            "X-Sessionvision-Anonymous-Id": "header-anon",
            "baggage": "user.id=baggage-user",
            "X-POSTHOG-DISTINCT-ID": "distinct",
        }
    )
    assert (identity.client_user_id, identity.anonymous_id) == ("header-user", "header-anon")
    identity = read({"baggage": "user.id=baggage-user", "X-POSTHOG-DISTINCT-ID": "distinct"})
    assert (identity.client_user_id, identity.anonymous_id) == ("baggage-user", "distinct")
    assert identity.session_id is None
    assert identity.user_id is None  # never from the client


def test_a_valid_signed_token_wins_over_every_other_carrier() -> None:
    identity = read(
        {**ALL_CARRIERS, "X-Sessionvision-Session-Token": sign(SESSION)}, token_verifier=verify
    )
    assert (identity.session_id, identity.carrier, identity.verified) == (
        SESSION,
        "X-Sessionvision-Session-Token",
        True,
    )


def test_an_invalid_token_falls_back_unless_signed_ids_are_required() -> None:
    token = sign(SESSION)
    forged = token[:-1] + ("A" if token[-1] != "A" else "B")
    headers = {"X-Sessionvision-Session-Token": forged, "baggage": "session.id=b"}
    assert read(headers, token_verifier=verify).session_id == "b"
    identity = read(headers, token_verifier=verify, require_signed=True)
    assert (identity.session_id, identity.carrier, identity.verified) == (None, None, False)


def test_require_signed_ignores_every_unsigned_session_but_keeps_client_ids() -> None:
    identity = read(
        {**ALL_CARRIERS, "X-Sessionvision-Anonymous-Id": "anon"},
        token_verifier=verify,
        require_signed=True,
    )
    assert (identity.session_id, identity.anonymous_id) == (None, "anon")


def test_without_a_verifier_the_token_is_not_read() -> None:
    assert read({"X-Sessionvision-Session-Token": sign(SESSION)}).session_id is None


def test_a_verifier_that_raises_or_returns_junk_counts_as_invalid() -> None:
    def broken(token: str) -> str | None:
        raise RuntimeError("verifier bug")

    headers = {"X-Sessionvision-Session-Token": "t.1", "baggage": "session.id=b"}
    assert read(headers, token_verifier=broken).session_id == "b"
    assert read(headers, token_verifier=lambda token: "bad id,").session_id == "b"
    assert read(headers, token_verifier=junk).session_id == "b"


def junk(token: str) -> Any:
    """A verifier that breaks its contract."""
    return 42
