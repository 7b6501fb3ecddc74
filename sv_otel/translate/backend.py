"""Backend telemetry that carries a ``session.id`` becomes ``$`` events in the session's timeline.

Records that sv_otel did not make from events (any scope other than ``sessionvision``) are read
as backend telemetry. They need a ``session.id`` attribute on the record (or span) or its
resource; the others are skipped and counted. The events made:

============== ===================================================================================
``$span``      a backend span: ``name``, ``kind``, ``duration_ms``, ``status``, ``status_message``,
               ``trace_id``, ``span_id``, ``parent_span_id``, ``service.name``, ``attributes``
``$exception`` an ``exception`` span event or a log record with ``exception.*`` attributes:
               ``type``, ``message``, ``stacktrace``, ``trace_id``, ``span_id``, ``service.name``
``$log``       a log record without ``event_name``: ``body``, ``severity``,
               ``severity_number``, ``trace_id``, ``span_id``, ``service.name``, ``attributes``
(its name)     a log record with an ``event_name``: its attributes as properties (through the
               mapping table), plus ``trace_id`` / ``span_id`` when set
============== ===================================================================================

``attributes`` keeps only the *key attributes* listed in :data:`KEY_ATTRIBUTE_PREFIXES` (HTTP
route and status, database system and operation, RPC method, error type...), never arbitrary
ones, so request headers or payloads a backend recorded do not leak into the browser timeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from sv_otel.attributes import (
    ENDUSER_PSEUDO_ID,
    SERVICE_NAME,
    SESSION_ID,
    USER_ID,
    property_key,
)
from sv_otel.event import Event, JSONValue

__all__ = [
    "EXCEPTION_EVENT",
    "KEY_ATTRIBUTE_PREFIXES",
    "LOG_EVENT",
    "SPAN_EVENT",
    "exception_event",
    "log_event",
    "span_event",
]

SPAN_EVENT: Final = "$span"
LOG_EVENT: Final = "$log"
EXCEPTION_EVENT: Final = "$exception"

KEY_ATTRIBUTE_PREFIXES: Final = (
    "http.request.method",
    "http.response.status_code",
    "http.route",
    "url.path",
    "url.scheme",
    "server.address",
    "server.port",
    "rpc.system",
    "rpc.service",
    "rpc.method",
    "rpc.grpc.status_code",
    "db.system",
    "db.operation.name",
    "db.collection.name",
    "db.namespace",
    "messaging.system",
    "messaging.operation",
    "messaging.destination.name",
    "error.type",
    "code.function",
    "code.filepath",
    "code.lineno",
    "log.logger",
)
"""Attribute keys (or key prefixes) copied into ``$span`` / ``$log`` events' ``attributes``."""

_SPAN_KINDS: Final = ("unspecified", "internal", "server", "client", "producer", "consumer")
_STATUS: Final = ("unset", "ok", "error")
_SEVERITIES: Final = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")


def _identity(
    attributes: Mapping[str, JSONValue], resource: Mapping[str, JSONValue]
) -> tuple[str, str | None, str | None] | None:
    session_id = attributes.get(SESSION_ID) or resource.get(SESSION_ID)
    if type(session_id) is not str or not session_id:
        return None
    user_id = attributes.get(USER_ID) or resource.get(USER_ID)
    anonymous_id = attributes.get(ENDUSER_PSEUDO_ID) or resource.get(ENDUSER_PSEUDO_ID)
    return (
        session_id,
        user_id if type(user_id) is str else None,
        anonymous_id if type(anonymous_id) is str else None,
    )


def _key_attributes(attributes: Mapping[str, JSONValue]) -> dict[str, JSONValue]:
    return {k: v for k, v in attributes.items() if k.startswith(KEY_ATTRIBUTE_PREFIXES)}


def _common(
    trace_id: bytes, span_id: bytes, resource: Mapping[str, JSONValue]
) -> dict[str, JSONValue]:
    props: dict[str, JSONValue] = {}
    if len(trace_id) == 16 and any(trace_id):
        props["trace_id"] = trace_id.hex()
    if len(span_id) == 8 and any(span_id):
        props["span_id"] = span_id.hex()
    service = resource.get(SERVICE_NAME)
    if service is not None:
        props[SERVICE_NAME] = service
    return props


def span_event(
    *,
    name: str,
    kind: int,
    start_ns: int,
    end_ns: int,
    status_code: int,
    status_message: str,
    trace_id: bytes,
    span_id: bytes,
    parent_span_id: bytes,
    attributes: Mapping[str, JSONValue],
    resource: Mapping[str, JSONValue],
) -> Event | None:
    """Make the ``$span`` event of a backend span; None without a session id."""
    identity = _identity(attributes, resource)
    if identity is None:
        return None
    props = _common(trace_id, span_id, resource)
    props["name"] = name
    props["kind"] = _SPAN_KINDS[kind] if 0 <= kind < len(_SPAN_KINDS) else str(kind)
    props["duration_ms"] = max(0, end_ns - start_ns) / 1e6
    props["status"] = _STATUS[status_code] if 0 <= status_code < len(_STATUS) else str(status_code)
    if status_message:
        props["status_message"] = status_message
    if len(parent_span_id) == 8 and any(parent_span_id):
        props["parent_span_id"] = parent_span_id.hex()
    props["attributes"] = _key_attributes(attributes)
    return Event(
        event=SPAN_EVENT,
        timestamp=start_ns // 1_000_000,
        properties=props,
        session_id=identity[0],
        user_id=identity[1],
        anonymous_id=identity[2],
    )


def exception_event(
    *,
    time_ns: int,
    attributes: Mapping[str, JSONValue],
    identity_attributes: Mapping[str, JSONValue],
    trace_id: bytes,
    span_id: bytes,
    resource: Mapping[str, JSONValue],
) -> Event | None:
    """Make a ``$exception`` event from ``exception.*`` attributes; None without a session id."""
    identity = _identity(identity_attributes, resource)
    if identity is None:
        return None
    props = _common(trace_id, span_id, resource)
    for key in ("type", "message", "stacktrace"):
        value = attributes.get("exception." + key)
        if value is not None:
            props[key] = value
    return Event(
        event=EXCEPTION_EVENT,
        timestamp=time_ns // 1_000_000,
        properties=props,
        session_id=identity[0],
        user_id=identity[1],
        anonymous_id=identity[2],
    )


def log_event(
    *,
    time_ns: int,
    event_name: str,
    severity_number: int,
    severity_text: str,
    body: JSONValue,
    attributes: Mapping[str, JSONValue],
    trace_id: bytes,
    span_id: bytes,
    resource: Mapping[str, JSONValue],
) -> Event | None:
    """Make the event of a backend log record; None without a session id."""
    if "exception.type" in attributes or "exception.message" in attributes:
        return exception_event(
            time_ns=time_ns,
            attributes=attributes,
            identity_attributes=attributes,
            trace_id=trace_id,
            span_id=span_id,
            resource=resource,
        )
    identity = _identity(attributes, resource)
    if identity is None:
        return None
    if event_name:
        props = {
            property_key(k): v
            for k, v in attributes.items()
            if k not in (SESSION_ID, USER_ID, ENDUSER_PSEUDO_ID)
        }
        props.update(_common(trace_id, span_id, {}))
        name = event_name
    else:
        props = _common(trace_id, span_id, resource)
        props["body"] = body
        props["severity"] = severity_text or _severity_name(severity_number)
        props["severity_number"] = severity_number
        props["attributes"] = _key_attributes(attributes)
        name = LOG_EVENT
    return Event(
        event=name,
        timestamp=time_ns // 1_000_000,
        properties=props,
        session_id=identity[0],
        user_id=identity[1],
        anonymous_id=identity[2],
    )


def _severity_name(number: int) -> str:
    if 1 <= number <= 24:
        return _SEVERITIES[(number - 1) // 4]
    return "UNSPECIFIED"
