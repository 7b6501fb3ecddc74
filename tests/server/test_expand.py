"""``${env:VAR}`` expansion, as the Collector does it."""

from __future__ import annotations

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.server.expand import expand_env

ENV = {"PORT": "4317", "NAME": "tempo", "FLAG": "true", "EMPTY": ""}


@pytest.mark.parametrize(
    ("value", "expanded"),
    [
        ("${env:PORT}", 4317),  # a whole reference holding a YAML scalar keeps its type
        ("${PORT}", 4317),
        ("${env:FLAG}", True),
        ("host:${env:PORT}", "host:4317"),
        ("${env:NAME}-${env:NAME}", "tempo-tempo"),
        ("${env:MISSING:-fallback}", "fallback"),
        ("${env:EMPTY:-fallback}", "fallback"),
        ("$$literal", "$literal"),
        ("price $$5", "price $5"),
        ("no references", "no references"),
        (7, 7),
    ],
)
def test_expansion(value: object, expanded: object) -> None:
    assert expand_env(value, "key", ENV) == expanded


def test_nested_values_and_paths() -> None:
    document = {"a": [{"b": "${env:NAME}"}], "${env:NAME}": "keys are not expanded"}
    assert expand_env(document, "", ENV) == {
        "a": [{"b": "tempo"}],
        "${env:NAME}": "keys are not expanded",
    }
    with pytest.raises(ConfigurationError) as raised:
        expand_env({"a": [{"b": "${env:NOPE}"}]}, "", ENV)
    assert raised.value.message.startswith("a[0].b: environment variable NOPE is not set")


def test_an_empty_variable_without_default_expands_to_empty() -> None:
    assert expand_env("x${env:EMPTY}y", "k", ENV) == "xy"
