"""Events as sessionvision JSON by session: encoded once, merged, and read back unchanged."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sv_otel import dump_events, parse_batch
from sv_otel.event import Event
from sv_otel.session_json import (
    SessionJson,
    encode_session_json,
    group_by_session,
    join_session_json,
    split_piece,
)
from tests.strategies import events as any_events

SESSIONS = st.sampled_from(["s-1", "s-2", "s-3"])


def _event(name: str, session: str, **properties: object) -> Event:
    return Event(event=name, timestamp=1, session_id=session, properties=dict(properties))


BATCH = [
    _event("a", "s1", n=1),
    _event("b", "s2", f=1.5, nested={"x": [1, None, "y"]}),
    _event("c", "s1", text="é \u2028 </script>"),
]


def test_events_are_grouped_by_session_in_order_of_first_appearance() -> None:
    assert {k: [e.event for e in v] for k, v in group_by_session(BATCH).items()} == {
        "s1": ["a", "c"],
        "s2": ["b"],
    }
    batch = SessionJson.of_events(BATCH)
    assert batch.events == 3
    assert list(batch.pieces) == ["s1", "s2"]
    ((count, piece),) = batch.pieces["s1"]
    assert count == 2
    assert parse_batch(b"[" + piece + b"]").events == [BATCH[0], BATCH[2]]


def test_stored_batches_merge_by_session_and_read_back_as_the_events() -> None:
    later = [_event("d", "s2"), _event("e", "s3")]
    payloads = [encode_session_json(BATCH), encode_session_json(later)]
    merged = SessionJson.of_payloads(payloads)
    assert merged.events == 5
    assert [count for count, _ in merged.pieces["s2"]] == [1, 1]
    assert merged.to_events() == [BATCH[0], BATCH[2], BATCH[1], later[0], later[1]]
    joined = join_session_json(payloads)
    assert joined[0] & 0xF0 == 0x80  # a msgpack map: what tells it from other payloads
    assert SessionJson.of_payloads([joined]).to_events() == merged.to_events()
    assert join_session_json(payloads[:1]) is payloads[0]


def test_a_piece_splits_into_each_events_json() -> None:
    ((_, piece),) = SessionJson.of_events(BATCH).pieces["s1"]
    assert split_piece(piece) == [dump_events([e])[1:-1] for e in (BATCH[0], BATCH[2])]


@pytest.mark.parametrize("payload", [b"\x81\xa1s", b"\x81\xa1s\x92\x01\xc4\x03[1]", b"\x90"])
def test_a_damaged_payload_is_a_decode_error(payload: bytes) -> None:
    with pytest.raises(msgspec.DecodeError):
        SessionJson.of_payloads([payload]).to_events()


@settings(max_examples=50, deadline=None)
@given(st.lists(any_events(SESSIONS), max_size=20), st.integers(1, 4))
def test_any_events_survive_storing_and_merging(events: list[Event], cut: int) -> None:
    payloads = [encode_session_json(events[i : i + cut]) for i in range(0, len(events), cut)]
    merged = SessionJson.of_payloads([join_session_json(payloads)] if payloads else [])
    expected = [e for group in group_by_session(events).values() for e in group]
    assert merged.to_events() == expected
    assert merged.events == len(events)
