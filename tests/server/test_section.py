"""Strict, typed reading of configuration mappings."""

from __future__ import annotations

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.server.section import ConfigSection, parse_duration, parse_endpoint, parse_size


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (5, 5.0),
        (0.5, 0.5),
        ("250ms", 0.25),
        ("10s", 10.0),
        ("1.5m", 90.0),
        ("2h", 7200.0),
        ("7", 7.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "-1s", True, None, "5 parsecs"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("value", "size"),
    [(1024, 1024), ("64MiB", 64 << 20), ("1GB", 10**9), ("512 KiB", 512 << 10), ("9b", 9)],
)
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize("value", ["lots", 0, "0MiB", False, 1.5])
def test_bad_sizes(value: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(value)


@pytest.mark.parametrize(
    ("value", "endpoint"),
    [("127.0.0.1:8080", ("127.0.0.1", 8080)), ("[::1]:0", ("::1", 0)), ("h:65535", ("h", 65535))],
)
def test_endpoints(value: str, endpoint: tuple[str, int]) -> None:
    assert parse_endpoint(value, "--x") == endpoint


@pytest.mark.parametrize("value", ["8080", ":8080", "host:", "host:70000", "host:http"])
def test_bad_endpoints(value: str) -> None:
    with pytest.raises(ConfigurationError, match="--x: expected HOST:PORT"):
        parse_endpoint(value, "--x")


def test_sections_name_the_key_of_every_problem() -> None:
    section = ConfigSection({"n": "x", "flag": 1, "items": [1], "sub": 3}, "root")
    with pytest.raises(ConfigurationError, match=r"^root\.n: expected an integer, got a string"):
        section.integer("n", 0)
    with pytest.raises(ConfigurationError, match=r"^root\.flag: expected true or false"):
        section.boolean("flag", False)
    with pytest.raises(ConfigurationError, match=r"^root\.items: expected a list of strings"):
        section.strings("items")
    with pytest.raises(ConfigurationError, match=r"^root\.sub: expected a mapping"):
        section.section("sub")
    with pytest.raises(ConfigurationError, match="expected a mapping, got a list"):
        ConfigSection([1], "top")
    untouched = ConfigSection({"a": 1, "b": 2}, "s")
    untouched.integer("a", 0)
    with pytest.raises(ConfigurationError, match=r"^s\.b: unknown key \(expected one of: a\)$"):
        untouched.finish()
