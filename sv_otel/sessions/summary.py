"""A session's summary, in the two shapes sv_otel exports it.

* :func:`end_properties`: the properties of the ``session.end`` event. Through the mapping table
  they become OTel attributes: ``$session.*`` keys land under ``sessionvision.session.*``, the
  ones with a semantic convention use it, and metadata entries keep their own keys:

  =====================================  ==================================================
  property (-> attribute)                value
  =====================================  ==================================================
  ``$session.end_reason``                ``timeout``, ``max_duration``, ``shutdown`` or
                                         ``evicted``
  ``$session.started_at`` /              first / last event time (epoch ms)
  ``$session.last_active_at``
  ``$session.active_length``             active milliseconds, idle gaps left out
  ``$session.length``                    ``last_active_at - started_at`` (ms)
  ``$session.events_count`` /            counts
  ``$session.errors_count`` /
  ``$session.pages_count``
  ``$session.user_object``               identify traits (an object -> kvlist)
  ``$session.registered``                registered properties (an object -> kvlist)
  ``$session.client_version``            the SDK version
  ``$session.trace_ids``                 linked backend trace ids (hex strings)
  ``user_agent.original``                the browser's User-Agent
  ``browser.language``                   the browser's language
  ``service.version``                    the app version
  ``deployment.environment.name``        the environment
  ``$browser`` / ``$os`` /               as on every event (``user_agent.name``,
  ``$device_type``                       ``user_agent.os.name``, ``sessionvision.device_type``)
  metadata keys                          the session's metadata (from ``$start``)
  =====================================  ==================================================

  Absent values are left out; counts and times are always there.
* :func:`highlight_document`: a document valid against the Highlight Session JSON Schema
  (``highlight-session.schema.json`` beside this module): ``secure_id`` is the session id,
  ``identifier`` the user id, ``client_id`` the anonymous id, ``user_object`` the traits,
  ``fields`` the metadata and registered properties (type ``session``), the device type (type
  ``session``) and the traits (type ``user``), values as text. It adds fields of Highlight's own
  session model (``length``, ``pages_visited``, ``identified``, ``has_errors``,
  ``browser_name``, ``os_name``) and an ``sv_otel`` object (``end_reason``, ``previous_id``,
  ``trace_ids``), which the schema allows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Final

import msgspec

from sv_otel.event import JSONValue
from sv_otel.sessions.config import SessionConfig
from sv_otel.sessions.state import SessionState

__all__ = [
    "END_REASONS",
    "HIGHLIGHT_SCHEMA_PATH",
    "end_properties",
    "format_time",
    "highlight_document",
]

HIGHLIGHT_SCHEMA_PATH: Final = Path(__file__).with_name("highlight-session.schema.json")
"""The Highlight Session JSON Schema (draft 2020-12) that session documents are valid against."""

END_REASONS: Final = ("timeout", "max_duration", "shutdown", "evicted")
"""Why a session ended (``$session.end_reason``)."""

_JSON = msgspec.json.Encoder()

_SEMCONV_FIELDS: Final = (
    ("user_agent", "user_agent.original"),
    ("language", "browser.language"),
    ("app_version", "service.version"),
    ("environment", "deployment.environment.name"),
    ("client_version", "$session.client_version"),
    ("browser", "$browser"),
    ("os", "$os"),
    ("device_type", "$device_type"),
)
_HIGHLIGHT_STRINGS: Final = (
    ("environment", "environment"),
    ("app_version", "app_version"),
    ("client_version", "client_version"),
    ("user_agent", "user_agent"),
    ("language", "language"),
    ("browser", "browser_name"),
    ("os", "os_name"),
)


def end_properties(state: SessionState, reason: str) -> dict[str, JSONValue]:
    """Return the properties of the ``session.end`` event of ``state`` (see the table)."""
    props: dict[str, JSONValue] = dict(state.metadata)
    props["$session.end_reason"] = reason
    props["$session.started_at"] = state.started_at
    props["$session.last_active_at"] = state.last_active_at
    props["$session.active_length"] = state.active_length
    props["$session.length"] = state.last_active_at - state.started_at
    props["$session.events_count"] = state.events_count
    props["$session.errors_count"] = state.errors_count
    props["$session.pages_count"] = state.pages_count
    if state.traits:
        props["$session.user_object"] = dict(state.traits)
    if state.registered:
        props["$session.registered"] = dict(state.registered)
    for field, key in _SEMCONV_FIELDS:
        value = getattr(state, field)
        if value is not None:
            props[key] = value
    if state.trace_ids:
        props["$session.trace_ids"] = list(state.trace_ids)
    return props


def highlight_document(
    state: SessionState, config: SessionConfig, *, end_reason: str | None
) -> dict[str, JSONValue]:
    """Return the Highlight Session document of ``state``.

    Args:
        state: the session.
        config: supplies ``project_id`` and the ``url`` template.
        end_reason: why the session ended, or None while it is still open (then ``processed``
            is false).
    """
    doc: dict[str, JSONValue] = {
        "secure_id": state.session_id,
        "project_id": config.project_id,
    }
    if state.user_id is not None:
        doc["identifier"] = state.user_id
    if state.anonymous_id is not None:
        doc["client_id"] = state.anonymous_id
    if state.traits:
        doc["user_object"] = dict(state.traits)
    doc["fields"] = _fields(state)
    for field, key in _HIGHLIGHT_STRINGS:
        value = getattr(state, field)
        if value is not None:
            doc[key] = value
    doc["started_at"] = format_time(state.started_at)
    doc["last_active_at"] = format_time(state.last_active_at)
    doc["active_length"] = state.active_length
    doc["length"] = state.last_active_at - state.started_at
    doc["events_count"] = state.events_count
    doc["errors_count"] = state.errors_count
    doc["pages_visited"] = state.pages_count
    doc["identified"] = state.user_id is not None
    doc["has_errors"] = state.errors_count > 0
    if config.session_url is not None:
        doc["url"] = config.session_url.replace("{session_id}", state.session_id)
    doc["processed"] = end_reason is not None
    extra: dict[str, JSONValue] = {}
    if end_reason is not None:
        extra["end_reason"] = end_reason
    if state.previous_id is not None:
        extra["previous_id"] = state.previous_id
    extra["trace_ids"] = list(state.trace_ids)
    doc["sv_otel"] = extra
    return doc


def format_time(epoch_ms: int) -> str:
    """Return ``epoch_ms`` as RFC 3339 UTC with milliseconds, e.g. ``2024-03-08T00:00:00.000Z``."""
    seconds, millis = divmod(epoch_ms, 1000)
    days, rest = divmod(seconds, 86_400)
    date = _DATES.get(days)
    if date is None:
        if len(_DATES) >= 4096:
            _DATES.clear()
        t = time.gmtime(days * 86_400)
        date = _DATES[days] = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{date}{_TWO[hours]}:{_TWO[minutes]}:{_TWO[secs]}.{_THREE[millis]}Z"


_DATES: dict[int, str] = {}  # day number -> "YYYY-MM-DDT"
_TWO: Final = tuple(f"{n:02d}" for n in range(60))
_THREE: Final = tuple(f"{n:03d}" for n in range(1000))


def _fields(state: SessionState) -> list[JSONValue]:
    fields: list[JSONValue] = []
    for source in (state.metadata, state.registered):
        for name, value in source.items():
            fields.append({"name": name, "value": _text(value), "type": "session"})
    if state.device_type is not None:
        fields.append({"name": "device_type", "value": state.device_type, "type": "session"})
    for name, value in state.traits.items():
        fields.append({"name": name, "value": _text(value), "type": "user"})
    return fields


def _text(value: JSONValue) -> str:
    return value if type(value) is str else _JSON.encode(value).decode()
