"""``${env:VAR}`` expansion in configuration values, as the OpenTelemetry Collector does it.

``${env:VAR}`` and ``${VAR}`` become the variable's value, ``${env:VAR:-default}`` falls back to
``default`` when the variable is unset or empty, and ``$$`` is a literal ``$``. A whole value that
is one reference and holds YAML scalar text (``${env:PORT}`` = ``4317``) is read as YAML, so it
becomes a number or a boolean as if written in the file. Expansion applies to values only, not
keys. An unset variable without a default is an error naming the key.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

import yaml

from sv_otel.errors import ConfigurationError

__all__ = ["expand_env"]

_REFERENCE = re.compile(r"\$\$|\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SCALAR = (str, int, float, bool)


def expand_env(value: object, path: str = "", environ: Mapping[str, str] | None = None) -> object:
    """``value`` (a decoded YAML document) with every reference replaced.

    Raises:
        ConfigurationError: a variable is unset and has no default (naming key and variable).
    """
    env = os.environ if environ is None else environ
    if isinstance(value, dict):
        return {k: expand_env(v, _join(path, str(k)), env) for k, v in value.items()}
    if isinstance(value, list):
        return [expand_env(item, f"{path}[{i}]", env) for i, item in enumerate(value)]
    if not isinstance(value, str) or "$" not in value:
        return value
    whole = _REFERENCE.fullmatch(value)
    text = _REFERENCE.sub(lambda match: _replace(match, path, env), value)
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
