"""Typed, strict reading of one configuration mapping, with errors that name the key.

Every component reads its settings through a :class:`ConfigSection`, then calls
:meth:`ConfigSection.finish`, which rejects any key it did not read::

    section = ConfigSection(raw, "exporters.otlp")
    endpoint = section.string("endpoint", "http://localhost:4317")
    timeout = section.duration("timeout", 10.0)
    section.finish()
    # ConfigurationError: exporters.otlp.timout: unknown key (expected one of: endpoint, timeout)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TypeVar

from sv_otel.errors import ConfigurationError

__all__ = ["ConfigSection", "parse_duration", "parse_endpoint", "parse_size"]

_T = TypeVar("_T")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}
_SIZE = re.compile(r"^\s*(\d+)\s*(B|KiB|MiB|GiB|KB|MB|GB)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30}
_SIZE_UNITS |= {"kb": 1000, "mb": 1000**2, "gb": 1000**3, "": 1}


class ConfigSection:
    """A mapping from a configuration file, read key by key (see the module docstring).

    Args:
        raw: the mapping (``None`` is read as an empty mapping, as YAML writes ``key:``).
        path: the dotted path of the mapping, used in error messages.
    """

    def __init__(self, raw: object, path: str) -> None:
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"{path}: expected a mapping, got {_kind(raw)}")
        for key in raw:
            if not isinstance(key, str):
                raise ConfigurationError(f"{path}: keys must be strings, got {key!r}")
        self.raw: Mapping[str, object] = raw
        self.path = path
        self._read: set[str] = set()

    def key_path(self, key: str) -> str:
        """The dotted path of ``key`` in this section."""
        return f"{self.path}.{key}" if self.path else key

    def has(self, key: str) -> bool:
        """Whether ``key`` is present (reading it is still required for :meth:`finish`)."""
        return key in self.raw

    def value(self, key: str, default: object = None) -> object:
        """The raw value of ``key``, or ``default``."""
        self._read.add(key)
        return self.raw.get(key, default)

    def section(self, key: str) -> ConfigSection:
        """The nested mapping at ``key`` (empty if absent)."""
        return ConfigSection(self.value(key), self.key_path(key))

    def string(self, key: str, default: _T) -> str | _T:
        """A string value."""
        value = self.value(key, default)
        if value is default:
            return default
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_kind(value)}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """A boolean value (YAML ``true`` / ``false``)."""
        value = self.value(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_kind(value)}")
        return value

    def integer(self, key: str, default: int, *, minimum: int = 0) -> int:
        """An integer of at least ``minimum``."""
        value = self.value(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"expected an integer, got {_kind(value)}")
        if value < minimum:
            raise self.error(key, f"expected an integer of at least {minimum}, got {value}")
        return value

    def number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        """A number of at least ``minimum``."""
        value = self.value(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"expected a number, got {_kind(value)}")
        if value < minimum:
            raise self.error(key, f"expected a number of at least {minimum}, got {value}")
        return float(value)

    def duration(self, key: str, default: float) -> float:
        """A duration in seconds: a number, or a string like ``500ms``, ``10s``, ``2m``."""
        value = self.value(key, default)
        try:
            return parse_duration(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def size(self, key: str, default: int) -> int:
        """A size in bytes: an integer, or a string like ``64MiB``."""
        value = self.value(key, default)
        try:
            return parse_size(value)
        except ValueError as exc:
            raise self.error(key, str(exc)) from None

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        """One of ``choices``."""
        value = self.string(key, default)
        if value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def strings(self, key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A list of strings."""
        value = self.value(key, None)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.error(key, f"expected a list of strings, got {_kind(value)}")
        return tuple(value)

    def string_map(self, key: str) -> dict[str, str]:
        """A mapping of strings to strings (e.g. headers)."""
        value = self.value(key, None)
        if value is None:
            return {}
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise self.error(key, "expected a mapping of strings to strings")
        return dict(value)

    def finish(self) -> None:
        """Reject the keys that were never read.

        Raises:
            ConfigurationError: naming the first unknown key and the known ones.
        """
        unknown = [key for key in self.raw if key not in self._read]
        if unknown:
            known = ", ".join(sorted(self._read)) or "none"
            raise self.error(unknown[0], f"unknown key (expected one of: {known})")

    def error(self, key: str, problem: str) -> ConfigurationError:
        """A :class:`ConfigurationError` about ``key`` of this section."""
        return ConfigurationError(f"{self.key_path(key)}: {problem}")


def parse_duration(value: object) -> float:
    """Seconds from a number or a string like ``250ms``, ``10s``, ``1.5m``, ``1h``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 10s, got {_kind(value)}")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match.group(1)) * _DURATION_UNITS[match.group(2) or ""]
    else:
        raise ValueError(f"expected a duration such as 10s or 500ms, got {_kind(value)}")
    if seconds < 0:
        raise ValueError(f"expected a duration of at least 0, got {value!r}")
    return seconds


def parse_size(value: object) -> int:
    """Bytes from an integer or a string like ``512KiB``, ``64MiB``, ``1GB``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a size such as 64MiB, got {_kind(value)}")
    if isinstance(value, int):
        size = value
    elif isinstance(value, str) and (match := _SIZE.match(value)):
        unit = (match.group(2) or "").lower()
        size = int(match.group(1)) * _SIZE_UNITS[unit]
    else:
        raise ValueError(f"expected a size such as 64MiB or a number of bytes, got {_kind(value)}")
    if size < 1:
        raise ValueError(f"expected a size of at least 1 byte, got {value!r}")
    return size


def parse_endpoint(value: str, what: str) -> tuple[str, int]:
    """``(host, port)`` from ``HOST:PORT`` (``[::1]:PORT`` for IPv6; port 0 = any free port).

    Raises:
        ConfigurationError: naming ``what`` (the key or flag) and the problem.
    """
    host, sep, port_text = value.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigurationError(f"{what}: expected HOST:PORT, got {value!r}")
    return host, int(port_text)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({value})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__
