"""OTLP log records back to events.

Records in scope ``sessionvision`` that read as exactly what :mod:`sv_otel.translate.logs`
writes give back the events they were made from; every other record, and a record of that
scope with a field sv_otel never writes (a body, a severity, ...), goes through
:mod:`sv_otel.translate.backend`. A field ``LogRecord`` does not have at all is skipped, as
protobuf parsers skip unknown fields.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest

from sv_otel.attributes import SCOPE_NAME
from sv_otel.errors import InvalidOTLPError, ValueTooDeepError
from sv_otel.event import Event, JSONValue
from sv_otel.translate import backend
from sv_otel.translate._decode import (
    MALFORMED,
    SLOT_PROPERTY,
    SLOT_SESSION_ID,
    SLOT_USER_ID,
    decode_any,
    decode_attribute,
    fixed64,
    iter_fields,
    malformed,
    own_event,
    read_varint,
    skip_field,
)
from sv_otel.translate._envelope import iter_scopes
from sv_otel.translate.stats import TranslationStats

__all__ = ["logs_to_events"]

_LOG_RECORD_FIELDS: Final = frozenset((1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))
"""The field numbers of ``LogRecord`` (4 is reserved); any other is an unknown field."""


def logs_to_events(
    request: ExportLogsServiceRequest | bytes, *, stats: TranslationStats | None = None
) -> list[Event]:
    """Translate an OTLP logs request (a message or its protobuf bytes) back into events.

    Records of scope ``sessionvision`` become the events they were made from; other records
    become ``$log`` / ``$exception`` / named events (:mod:`sv_otel.translate.backend`). Records
    without a ``session.id`` are skipped and counted in ``stats``.

    Raises:
        InvalidOTLPError: the bytes are not a valid protobuf message.
    """
    buf = request if isinstance(request, bytes) else request.SerializeToString()
    stats = stats if stats is not None else TranslationStats()
    events: list[Event] = []
    try:
        for scope in iter_scopes(buf, stats, "log record"):
            own = scope.name == SCOPE_NAME
            for start, end in scope.records:
                try:
                    event: Event | str | None = _own_record(buf, start, end) if own else None
                    if event is None:
                        event = _backend_record(buf, start, end, scope.resource)
                except ValueTooDeepError as error:
                    event = f"log record: {error.message}"
                if event is None:
                    stats.skipped += 1
                elif isinstance(event, str):
                    stats.reject(event)
                else:
                    stats.converted += 1
                    events.append(event)
    except MALFORMED as error:
        raise malformed(error) from None
    return events


def _own_record(buf: bytes, start: int, end: int) -> Event | None:
    """Read a record sv_otel made; None if it is not one after all (then read as backend).

    The hot loop of the reverse path: fields sv_otel writes (one-byte tags) are read inline, a
    field ``LogRecord`` does not have is skipped, and any other field makes it backend telemetry.
    """
    timestamp = 0
    name = ""
    session_id: JSONValue = None
    user_id: JSONValue = None
    anonymous_id: JSONValue = None
    props: dict[str, JSONValue] = {}
    pos = start
    while pos < end:
        tag = buf[pos]
        if tag == 0x32 or tag == 0x62 or tag == 0x4A:  # attributes, event_name, trace_id
            length = buf[pos + 1]
            pos += 2
            if length >= 0x80:
                length, pos = read_varint(buf, pos - 1)
            stop = pos + length
            if stop > end:
                raise InvalidOTLPError("protobuf: a field runs past the end of its message")
            if tag == 0x32:
                _, slot, key, value = decode_attribute(buf, pos, stop)
                if slot == SLOT_PROPERTY:
                    props[key] = value
                elif slot == SLOT_SESSION_ID:
                    session_id = value
                elif slot == SLOT_USER_ID:
                    user_id = value
                else:
                    anonymous_id = value
            elif tag == 0x62:
                name = buf[pos:stop].decode()
            pos = stop
        elif tag == 0x09 or tag == 0x59:  # time_unix_nano, observed_time_unix_nano
            if pos + 9 > end:
                raise InvalidOTLPError("protobuf: truncated 64-bit field")
            if tag == 0x09:
                timestamp = fixed64(buf, pos + 1)[0] // 1_000_000
            pos += 9
        elif (tag == 0x2A or tag == 0x52) and pos + 1 < end and buf[pos + 1] == 0:
            # An empty body or span_id: sv_otel writes neither, but the OpenTelemetry Collector
            # writes both into every record it sends, so records that crossed one read as ours.
            pos += 2
        else:
            number, after = skip_field(buf, pos, end)
            if number in _LOG_RECORD_FIELDS:
                return None  # a field sv_otel never writes: read it as backend telemetry
            pos = after  # a field LogRecord does not have: ignored, as parsers do
    return own_event(name, timestamp, props, session_id, user_id, anonymous_id)


def _backend_record(
    buf: bytes, start: int, end: int, resource: dict[str, JSONValue]
) -> Event | str | None:
    time_ns = observed_ns = severity_number = 0
    severity_text = event_name = ""
    body: JSONValue = None
    trace_id = span_id = b""
    attributes: dict[str, JSONValue] = {}
    for number, wire, a, b in iter_fields(buf, start, end):
        if number == 6 and wire == 2:
            key, _, _, value = decode_attribute(buf, a, b)
            attributes[key] = value
        elif number == 1 and wire == 1:
            time_ns = fixed64(buf, a)[0]
        elif number == 11 and wire == 1:
            observed_ns = fixed64(buf, a)[0]
        elif number == 2 and wire == 0:
            severity_number = a
        elif number == 3 and wire == 2:
            severity_text = buf[a:b].decode("utf-8", "replace")
        elif number == 5 and wire == 2:
            body = decode_any(buf, a, b)
        elif number == 9 and wire == 2:
            trace_id = buf[a:b]
        elif number == 10 and wire == 2:
            span_id = buf[a:b]
        elif number == 12 and wire == 2:
            event_name = buf[a:b].decode("utf-8", "replace")
    time_ns = time_ns or observed_ns
    event = backend.log_event(
        time_ns=time_ns,
        event_name=event_name,
        severity_number=severity_number,
        severity_text=severity_text,
        body=body,
        attributes=attributes,
        trace_id=trace_id,
        span_id=span_id,
        resource=resource,
    )
    if event is not None and not time_ns:
        return "log record: neither time_unix_nano nor observed_time_unix_nano is set"
    return event
