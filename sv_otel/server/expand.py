"""``${env:VAR}`` expansion in configuration values, as the OpenTelemetry Collector does it.

``${env:VAR}`` and ``${VAR}`` become the variable's value, ``${env:VAR:-default}`` falls back to
``default`` when the variable is unset or empty, and ``$$`` is a literal ``$``. A whole value that
is one reference and holds YAML scalar text (``${env:PORT}`` = ``4317``) is read as YAML, so it
becomes a number or a boolean as if written in the file. Expansion applies to values only, not
keys. An unset variable without a default is an error naming the key.

Expanding copies the document, so YAML aliases become copies too; a document that would expand
past :data:`MAX_VALUES` values (an "alias bomb"), nest deeper than :data:`MAX_DEPTH`, or contain
itself is refused, naming where.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Final

import yaml

from sv_otel.errors import ConfigurationError

__all__ = ["MAX_DEPTH", "MAX_VALUES", "expand_env"]

_REFERENCE = re.compile(r"\$\$|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SCALAR = (str, int, float, bool)


MAX_VALUES: Final = 100_000
"""The most values (mappings, lists and scalars) a configuration may hold, aliases expanded."""

MAX_DEPTH: Final = 64
"""The deepest nesting of mappings and lists in a configuration."""


def expand_env(value: object, path: str = "", environ: Mapping[str, str] | None = None) -> object:
    """``value`` (a decoded YAML document) with every reference replaced.

    Raises:
        ConfigurationError: a variable is unset and has no default (naming key and variable);
            the document is too large, too deep, or contains itself.
    """
    return _Expansion(os.environ if environ is None else environ).expand(value, path, 0)


class _Expansion:
    """One document's expansion, counting the values it copies."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.values = 0
        self.open: set[int] = set()  # ids of the mappings and lists on the path being copied

    def expand(self, value: object, path: str, depth: int) -> object:
        self.values += 1
        if self.values > MAX_VALUES:
            raise ConfigurationError(
                f"{path or 'config'}: the configuration holds more than {MAX_VALUES} values "
                "once its YAML aliases are expanded"
            )
        if isinstance(value, (dict, list)):
            if depth >= MAX_DEPTH:
                raise ConfigurationError(f"{path}: nested deeper than {MAX_DEPTH} levels")
            if id(value) in self.open:
                raise ConfigurationError(f"{path}: a YAML alias refers to a value that holds it")
            self.open.add(id(value))
            try:
                if isinstance(value, dict):
                    return {
                        k: self.expand(v, _join(path, str(k)), depth + 1) for k, v in value.items()
                    }
                return [
                    self.expand(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value)
                ]
            finally:
                self.open.discard(id(value))
        if not isinstance(value, str) or "$" not in value:
            return value
        whole = _REFERENCE.fullmatch(value)
        text = _REFERENCE.sub(lambda match: _replace(match, path, self.env), value)
        if whole and whole.group(0) != "$$":
            try:
                typed = yaml.safe_load(text)
            except yaml.YAMLError:
                return text
            return typed if isinstance(typed, _SCALAR) else text
        return text


def _replace(match: re.Match[str], path: str, env: Mapping[str, str]) -> str:
    if match.group(0) == "$$":
        return "$"
    name, default = match.group(1), match.group(2)
    found = env.get(name)
    if found:
        return found
    if default is not None:
        return default
    if found is not None:
        return found
    raise ConfigurationError(
        f"{path or 'config'}: environment variable {name} is not set "
        f"(write ${{env:{name}:-default}} for a default)"
    )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
