"""Size limits applied to untrusted input, with safe defaults.

Every limit is checked before the work it protects: the decompressed size while decompressing
(so a gzip bomb stops at the limit), nesting depth and string length while validating.
"""

from __future__ import annotations

from dataclasses import dataclass

from sv_otel.errors import ConfigurationError

__all__ = ["Limits"]


@dataclass(frozen=True, slots=True)
class Limits:
    """Limits for one sessionvision batch.

    Attributes:
        max_body_bytes: largest body accepted, counted after decompression (default 10 MiB).
        max_events: most events in one batch (default 10 000).
        max_depth: deepest nesting of objects/arrays inside one property value (default 32).
        max_properties: most properties on one event, and most members of any one object or
            array inside a property value (default 1 000).
        max_string_length: longest string (event name, ids, property keys and string values),
            in characters (default 65 536).
    """

    max_body_bytes: int = 10 * 1024 * 1024
    max_events: int = 10_000
    max_depth: int = 32
    max_properties: int = 1_000
    max_string_length: int = 65_536

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigurationError(
                    f"Limits.{name}: expected a positive integer, got {value!r}"
                )
