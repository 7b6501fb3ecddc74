"""Hypothesis strategies for events: arbitrary JSON property values and adversarial keys."""

from __future__ import annotations

from hypothesis import strategies as st

from sv_otel import Event
from sv_otel.attributes import EVENT_FIELD_ATTRIBUTES, PROPERTY_ATTRIBUTES

# Keys that try to collide with the mapping table: mapped OTel keys, $-keys, the escape
# namespace, the empty key, unicode.
ADVERSARIAL_KEYS = st.sampled_from(
    [
        "",
        "$",
        "$current_url",
        "$browser",
        "$os",
        "$device_type",
        "$property.x",
        "$property.",
        "sessionvision.",
        "sessionvision.x",
        "sessionvision.property.",
        "sessionvision.property.x",
        "sessionvision.property.$property.x",
        "$sessionvision.x",
        "ключ",
        "🔑",
        *EVENT_FIELD_ATTRIBUTES.values(),
        *PROPERTY_ATTRIBUTES.values(),
    ]
)
KEYS = st.one_of(ADVERSARIAL_KEYS, st.text(max_size=12))

INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    INT64,
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=12,
)
IDS = st.one_of(st.text(min_size=1, max_size=40), st.uuids().map(str))


@st.composite
def events(draw: st.DrawFn, session_ids: st.SearchStrategy[str] = IDS) -> Event:
    return Event(
        event=draw(st.text(min_size=1, max_size=20)),
        timestamp=draw(st.integers(min_value=0, max_value=(2**64 - 1) // 1_000_000)),
        properties=draw(st.dictionaries(KEYS, JSON_VALUES, max_size=8)),
        anonymous_id=draw(st.none() | IDS),
        user_id=draw(st.none() | IDS),
        session_id=draw(session_ids),
    )


# Few distinct sessions, so batches interleave them.
BATCHES = st.lists(events(st.sampled_from(["s-1", "s-2", "2d5f1c2e-8a1b-4c3d-9e8f-0a1b2c3d4e5f"])))
