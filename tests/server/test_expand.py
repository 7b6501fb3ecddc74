"""``${env:VAR}`` expansion, as the Collector does it."""

from __future__ import annotations

import pytest
import yaml

from sv_otel.errors import ConfigurationError
from sv_otel.server.expand import MAX_DEPTH, MAX_VALUES, expand_env

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


ALIAS_BOMB = "\n".join(
    ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    + [
        f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]"
        for previous, name in zip("abcdefgh", "bcdefghi", strict=True)
    ]
)


def test_an_alias_bomb_is_refused_before_it_expands() -> None:
    # Nine levels of ten aliases each: 10^9 strings once expanded, a few lines of YAML.
    document = yaml.safe_load(ALIAS_BOMB)
    with pytest.raises(ConfigurationError, match=f"more than {MAX_VALUES} values") as raised:
        expand_env(document, "", ENV)
    assert raised.value.message.startswith("e[")  # where the count ran out


def test_aliases_within_the_limit_are_expanded_as_copies() -> None:
    document = yaml.safe_load("base: &base {endpoint: '${env:NAME}:${env:PORT}'}\ncopy: *base\n")
    expanded = expand_env(document, "", ENV)
    assert expanded == {"base": {"endpoint": "tempo:4317"}, "copy": {"endpoint": "tempo:4317"}}
    assert isinstance(expanded, dict) and expanded["base"] is not expanded["copy"]


def test_a_value_that_holds_itself_is_refused() -> None:
    document = yaml.safe_load("a: &a [1, *a]\n")
    with pytest.raises(ConfigurationError, match=r"^a\[1\]: a YAML alias refers to a value that"):
        expand_env(document, "", ENV)


def test_nesting_past_the_limit_is_refused() -> None:
    deep: object = "leaf"
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    assert expand_env([[["ok"]]], "x", ENV) == [[["ok"]]]
    with pytest.raises(ConfigurationError, match=f"nested deeper than {MAX_DEPTH} levels"):
        expand_env({"processors": deep}, "", ENV)
