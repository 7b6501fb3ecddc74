"""The hand-written attribute encoder against the official protobuf classes, and its cache bound."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from sv_otel.attributes import attribute_key
from sv_otel.translate._encode import CACHE_BYTES, ENTRY_BYTES, AttributeEncoder


def official(key: str, value: Any) -> KeyValue:
    """``key: value`` built field by field through the protobuf API."""
    return KeyValue(key=key, value=any_value(value))


def any_value(value: Any) -> AnyValue:
    if value is None:
        return AnyValue()
    if isinstance(value, bool):
        return AnyValue(bool_value=value)
    if isinstance(value, int):
        return AnyValue(int_value=value)
    if isinstance(value, float):
        return AnyValue(double_value=value)
    if isinstance(value, str):
        return AnyValue(string_value=value)
    if isinstance(value, list):
        out = AnyValue()
        out.array_value.values.extend(any_value(item) for item in value)
        return out
    out = AnyValue()
    out.kvlist_value.values.extend(official(k, v) for k, v in value.items())
    return out


VALUES = [
    "text",
    "",
    "ünïcødé ☃",
    True,
    False,
    0,
    1,
    -1,
    2**63 - 1,
    -(2**63),
    0.0,
    -0.0,
    1.5,
    1e308,
    None,
    [],
    [1, "two", 3.0, None, [True]],
    {},
    {"nested": {"deeper": [1, {"k": "v"}]}},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_every_value_type_matches_the_official_encoding(value: Any) -> None:
    encoder = AttributeEncoder(b"\x32")
    for _ in range(2):  # the second call is served from the cache
        record = LogRecord.FromString(encoder.encode("k", value))
        assert list(record.attributes) == [official("k", value)]


def test_true_and_one_are_not_confused_by_the_cache() -> None:
    encoder = AttributeEncoder(b"\x32")
    for value in [1, True, 0, False, 1, True]:
        (attribute,) = LogRecord.FromString(encoder.encode("k", value)).attributes
        assert attribute == official("k", value)


def test_rename_maps_property_keys_to_attribute_keys() -> None:
    encoder = AttributeEncoder(b"\x32", attribute_key)
    (attribute,) = LogRecord.FromString(encoder.encode("$current_url", "https://x")).attributes
    assert attribute == official("url.full", "https://x")


def test_the_cache_stays_bounded_and_correct_past_its_limit() -> None:
    encoder = AttributeEncoder(b"\x32")
    emptied, previous = 0, 0
    for number in range(CACHE_BYTES // ENTRY_BYTES + 10):
        value = f"value-{number}" if number % 2 else number
        (attribute,) = LogRecord.FromString(encoder.encode(f"key-{number % 7}", value)).attributes
        assert attribute == official(f"key-{number % 7}", value)
        emptied += encoder._bytes < previous
        previous = encoder._bytes
        assert previous <= CACHE_BYTES + 1024
    assert emptied >= 1
