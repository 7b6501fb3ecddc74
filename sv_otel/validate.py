"""Validation of decoded sessionvision events, with messages that name the field and the problem.

Two entry points:

* :func:`event_from_json` turns one decoded JSON value into an :class:`Event` or a message such as
  ``events[3].timestamp: expected integer epoch milliseconds, got "abc"``.
* :func:`within_limits` is the cheap check run on events that msgspec already decoded and typed;
  only events that fail it go through the detailed path to get their message.
"""

from __future__ import annotations

import math
import re

import msgspec

from sv_otel.event import Event, JSONValue
from sv_otel.limits import Limits

__all__ = ["MAX_TIMESTAMP_MS", "event_from_json", "within_limits"]

MAX_TIMESTAMP_MS = (2**64 - 1) // 1_000_000
"""The largest epoch-millisecond timestamp whose nanoseconds fit OTLP's unsigned 64-bit field."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_PLAIN_KEY = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
_ID_FIELDS = (("anonymousId", "anonymous_id"), ("userId", "user_id"))
_MISSING: JSONValue = object()


def within_limits(event: Event, limits: Limits) -> bool:
    """Cheap check of a typed event against ``limits`` (no message; see :func:`event_from_json`)."""
    max_len = limits.max_string_length
    props = event.properties
    if (
        not event.event
        or not event.session_id
        or len(event.event) > max_len
        or len(event.session_id) > max_len
        or not 0 <= event.timestamp <= MAX_TIMESTAMP_MS
        or len(props) > limits.max_properties
        or (event.user_id is not None and len(event.user_id) > max_len)
        or (event.anonymous_id is not None and len(event.anonymous_id) > max_len)
    ):
        return False
    for key, value in props.items():
        kind = type(value)
        if len(key) > max_len:
            return False
        if kind is str:
            if len(value) > max_len:
                return False
        elif kind is int:
            if not _INT64_MIN <= value <= _INT64_MAX:
                return False
        elif (kind is dict or kind is list) and _check_value(value, "", 1, limits) is not None:
            return False
    return True


def event_from_json(raw: JSONValue, index: int, limits: Limits) -> Event | str:
    """Validate one decoded JSON event; return the :class:`Event` or an error message."""
    where = f"events[{index}]"
    if type(raw) is not dict:
        return f"{where}: expected an object, got {_show(raw)}"
    max_len = limits.max_string_length
    name = raw.get("event", _MISSING)
    if type(name) is not str or not name:
        return f"{where}.event: expected a non-empty string, got {_show(name)}"
    if len(name) > max_len:
        return f"{where}.event: longer than {max_len} characters ({len(name)})"
    timestamp = raw.get("timestamp", _MISSING)
    if type(timestamp) is not int:
        return f"{where}.timestamp: expected integer epoch milliseconds, got {_show(timestamp)}"
    if not 0 <= timestamp <= MAX_TIMESTAMP_MS:
        return f"{where}.timestamp: {timestamp} is outside 0..{MAX_TIMESTAMP_MS} epoch milliseconds"
    session_id = raw.get("sessionId", _MISSING)
    if type(session_id) is not str or not session_id:
        return f"{where}.sessionId: expected a non-empty string, got {_show(session_id)}"
    if len(session_id) > max_len:
        return f"{where}.sessionId: longer than {max_len} characters ({len(session_id)})"
    ids: dict[str, str | None] = {}
    for wire, field in _ID_FIELDS:
        value = raw.get(wire)
        if value is not None and type(value) is not str:
            return f"{where}.{wire}: expected a string or null, got {_show(value)}"
        if value is not None and len(value) > max_len:
            return f"{where}.{wire}: longer than {max_len} characters ({len(value)})"
        ids[field] = value
    props = raw.get("properties")
    if props is None:
        props = {}
    elif type(props) is not dict:
        return f"{where}.properties: expected an object, got {_show(props)}"
    problem = _check_value(props, f"{where}.properties", 0, limits)
    if problem is not None:
        return problem
    return Event(
        event=name,
        timestamp=timestamp,
        properties=props,
        anonymous_id=ids["anonymous_id"],
        user_id=ids["user_id"],
        session_id=session_id,
    )


def _check_value(value: JSONValue, path: str, depth: int, limits: Limits) -> str | None:
    """Return a message for the first problem inside ``value`` (a property value), or None."""
    kind = type(value)
    if kind is str:
        if len(value) > limits.max_string_length:
            return (
                f"{path}: string longer than {limits.max_string_length} characters ({len(value)})"
            )
    elif kind is int:
        if not _INT64_MIN <= value <= _INT64_MAX:
            return f"{path}: integer {value} is outside the signed 64-bit range that OTLP carries"
    elif kind is float:
        if not math.isfinite(value):
            return f"{path}: number is out of the range of a 64-bit float"
    elif kind is dict or kind is list:
        if depth > limits.max_depth:
            return f"{path}: nested deeper than {limits.max_depth} levels"
        if len(value) > limits.max_properties:
            return f"{path}: more than {limits.max_properties} members ({len(value)})"
        if kind is dict:
            for key, item in value.items():
                if len(key) > limits.max_string_length:
                    return f"{path}: key longer than {limits.max_string_length} characters"
                problem = _check_value(item, _join(path, key), depth + 1, limits)
                if problem is not None:
                    return problem
        else:
            for position, item in enumerate(value):
                problem = _check_value(item, f"{path}[{position}]", depth + 1, limits)
                if problem is not None:
                    return problem
    elif kind is not bool and value is not None:
        return f"{path}: unsupported value {_show(value)}"
    return None


def _join(path: str, key: str) -> str:
    if _PLAIN_KEY.fullmatch(key):
        return f"{path}.{key}"
    return f"{path}[{msgspec.json.encode(key).decode()}]"


def _show(value: JSONValue) -> str:
    """Render a bad value for a message: JSON, cut to 40 characters."""
    if value is _MISSING:
        return "nothing (the field is missing)"
    try:
        text = msgspec.json.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
