"""Reading known entries from hostile ``baggage`` headers, and merging one entry in."""

from __future__ import annotations

import pytest

from sv_otel.linking.baggage import (
    MAX_ENTRIES,
    MAX_ENTRY_LENGTH,
    MAX_HEADER_LENGTH,
    merge_entry,
    read_entries,
)

KEYS = frozenset({"session.id", "user.id"})


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["session.id=s1,user.id=u1"], {"session.id": "s1", "user.id": "u1"}),
        ([" session.id = s1 ; prop=x ; other , foo=bar"], {"session.id": "s1"}),
        (["user.id=jane%40example.com"], {"user.id": "jane@example.com"}),
        (["foo=1", "session.id=s2"], {"session.id": "s2"}),
        (["session.id=s1,session.id=s1"], {"session.id": "s1"}),
        (["session.id=s1,session.id=s2,user.id=u"], {"user.id": "u"}),
        (["session.id=s1", "session.id=s2"], {}),
        (["session.id"], {}),
        ([",,,;;;==,=x,session.id"], {}),
        (["SESSION.ID=upper"], {}),
        ([""], {}),
        ([], {}),
    ],
)
def test_read_entries(values: list[str], expected: dict[str, str]) -> None:
    assert read_entries(values, KEYS) == expected


def test_only_the_keys_asked_for_are_read() -> None:
    header = "http.route=/evil,db.statement=DROP%20TABLE,session.id=s1,enduser.id=root"
    assert read_entries([header], KEYS) == {"session.id": "s1"}


def test_a_header_over_the_length_limit_is_ignored_whole() -> None:
    padding = "k=" + "v" * (MAX_HEADER_LENGTH - 20)
    assert read_entries([f"session.id=s1,{padding}"], KEYS) == {"session.id": "s1"}
    assert read_entries([f"session.id=s1,{padding}xxxxxxxxxxxxxxxxxxxxxxxxxxxxx"], KEYS) == {}
    assert read_entries(["session.id=s1", "k=" + "v" * MAX_HEADER_LENGTH], KEYS) == {}


def test_entries_past_the_count_limit_are_ignored() -> None:
    early = [f"k{i}=v" for i in range(200)]
    early.insert(5, "session.id=early")
    assert read_entries([",".join(early)], KEYS) == {"session.id": "early"}
    late = [f"k{i}=v" for i in range(MAX_ENTRIES)] + ["session.id=late"]
    assert read_entries([",".join(late)], KEYS) == {}
    split_late = [",".join(f"k{i}=v" for i in range(MAX_ENTRIES)), "session.id=late"]
    assert read_entries(split_late, KEYS) == {}


def test_an_over_long_entry_is_ignored() -> None:
    long_value = "s" * MAX_ENTRY_LENGTH
    assert read_entries([f"session.id={long_value},user.id=u"], KEYS) == {"user.id": "u"}


def test_undecodable_percent_escapes_do_not_raise() -> None:
    assert read_entries(["session.id=%ZZ%,user.id=%ff%fe"], KEYS) == {
        "session.id": "%ZZ%",
        "user.id": "\ufffd\ufffd",
    }


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        (None, "session.id=s1"),
        ("", "session.id=s1"),
        ("vendor=keep;prop=1", "vendor=keep;prop=1,session.id=s1"),
        (
            "session.id=old,sentry-trace_id=abc, session.id = older ;p,foo=bar",
            "sentry-trace_id=abc,foo=bar,session.id=s1",
        ),
        ("a=1,,b=2,", "a=1,b=2,session.id=s1"),
    ],
)
def test_merge_entry(existing: str | None, expected: str) -> None:
    assert merge_entry(existing, "session.id", "s1") == expected


def test_merge_entry_percent_encodes_the_value() -> None:
    assert merge_entry(None, "user.id", "jane doe,=;") == "user.id=jane%20doe%2C%3D%3B"
