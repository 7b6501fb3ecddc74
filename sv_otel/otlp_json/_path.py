"""Error reporting for the OTLP/JSON codec: JSON paths, "expected X, got Y", nesting limit.

Converters deep inside a message raise :class:`FieldError` with only the problem; every level that
it unwinds through appends its object key or array index. This keeps the happy path free of any
path bookkeeping (a ``try`` block costs nothing until something is raised). At the public entry
points the error becomes an :class:`~sv_otel.errors.InvalidOTLPError` such as
``resourceLogs[0].scopeLogs[0].logRecords[3].traceId: expected 32 hex characters, got "abc"``.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal

from sv_otel.errors import InvalidOTLPError

__all__ = [
    "MAX_DEPTH",
    "FieldError",
    "describe",
    "format_path",
    "json_type",
    "key_segment",
    "show_number",
    "too_deep",
]

MAX_DEPTH = 100
"""Most levels of nested messages (the outermost counts as 1), in JSON and in messages alike.

The same as protobuf's default recursion limit for the binary format, so whatever this codec
accepts can also be sent and parsed as binary protobuf. AnyValue nests 2 (array) or 3 (kvlist)
message levels per value level.
"""

_MAX_PATH_CHARS = 240
_MAX_SHOWN_CHARS = 48

_JSON_TYPES: dict[type, str] = {
    dict: "object",
    list: "array",
    tuple: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


class FieldError(Exception):
    """A decoding or encoding problem; ``parts`` collects the path innermost-first as it unwinds.

    Args:
        problem: What is wrong, e.g. ``expected string, got number``.
    """

    def __init__(self, problem: str, *, too_deep: bool = False) -> None:
        super().__init__(problem)
        self.problem = problem
        self.too_deep = too_deep
        self.parts: list[str | int] = []

    def to_invalid(self) -> InvalidOTLPError:
        """Return the public error, with the path outermost-first."""
        return InvalidOTLPError(f"{format_path(self.parts[::-1])}: {self.problem}")


def too_deep() -> FieldError:
    """Return the error for nesting beyond :data:`MAX_DEPTH`."""
    return FieldError(f"nested deeper than {MAX_DEPTH} levels", too_deep=True)


def format_path(parts: list[str | int]) -> str:
    """Render ``["resourceLogs", 0, "resource"]`` as ``resourceLogs[0].resource``.

    Integers are array indices; strings that start with ``[`` are pre-rendered map keys. An empty
    path is ``body``. Very long paths (deep nesting) keep their start and end around ``...``.
    """
    out: list[str] = []
    for part in parts:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif part.startswith("[") or not out:
            out.append(part)
        else:
            out.append("." + part)
    text = "".join(out) or "body"
    if len(text) > _MAX_PATH_CHARS:
        keep = _MAX_PATH_CHARS // 2
        text = f"{text[:keep]}...{text[-keep:]}"
    return text


def json_type(value: object) -> str:
    """Return the JSON type name of a decoded JSON value (``object``, ``array``, ``string`` ...)."""
    name = _JSON_TYPES.get(type(value))
    if name is not None:
        return name
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def key_segment(key: object) -> str:
    """Return the path segment of a map or ``Struct`` key, e.g. ``["service.name"]``."""
    return f"[{describe(key)}]" if isinstance(key, str) else f"[<{json_type(key)}>]"


def show_number(value: float | Decimal) -> str:
    """Render a number for an error message, abbreviating huge integers.

    A ``Decimal`` (an exact JSON number) that is the shortest text of a ``float`` is shown as
    that float is, so both spellings of one JSON number give one message.
    """
    if isinstance(value, Decimal):
        if value.is_finite() and value == value.to_integral_value():
            if value.adjusted() >= 40:  # not worth building: 40 digits or more
                return _digits(value.adjusted() + 1, value < 0)
            return show_number(int(value))
        if value.is_finite() and abs(value.adjusted()) < 400:
            as_float = float(value)
            if Decimal(repr(as_float)) == value:
                return repr(as_float)
        text = str(value)
        return text if len(text) <= _MAX_SHOWN_CHARS else text[:_MAX_SHOWN_CHARS] + "..."
    if isinstance(value, int) and value.bit_length() > 128:
        bits = value.bit_length()
        digits = int(bits * math.log10(2)) + 1  # the most a number of that many bits has
        if bits < 1_000_000 and abs(value) < 10 ** (digits - 1):
            digits -= 1
        return _digits(digits, value < 0)
    return repr(value)


def _digits(count: int, negative: bool) -> str:
    return f"a {'negative ' if negative else ''}{count}-digit number"


def describe(value: str) -> str:
    """Quote a string for an error message: JSON-escaped (ASCII only), shortened if long."""
    if len(value) > _MAX_SHOWN_CHARS:
        value = value[:_MAX_SHOWN_CHARS] + "..."
    return json.dumps(value)
