"""Events to OTLP spans (one trace per session) and back.

The span model:

* every session is one trace: ``trace_id`` = :func:`sv_otel.ids.session_trace_id` of its id;
* each *run* of consecutive events of one session in a batch becomes one ``INTERNAL`` span named
  ``session activity`` in scope ``sessionvision``, from its earliest to its latest event, with
  attribute ``session.id``; a browser batch (one session) is one span;
* each event is a span event: ``name`` = the event name, ``time_unix_nano`` = its timestamp, and
  attributes ``user.id`` / ``enduser.pseudo.id`` (when set) and the mapped properties;
* the span id is derived from the run (session, first and last timestamp, count, first event
  name), so a retried batch yields the same span; spans have no parent.

Because runs keep batch order, reading the spans back yields the events in their original order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sv_otel.attributes import (
    ENDUSER_PSEUDO_ID,
    SCOPE_NAME,
    SESSION_ID,
    USER_ID,
    attribute_key,
)
from sv_otel.errors import ValueTooDeepError
from sv_otel.event import Event, JSONValue
from sv_otel.ids import run_span_id, session_trace_id
from sv_otel.translate import backend
from sv_otel.translate._decode import (
    MALFORMED,
    SLOT_ANONYMOUS_ID,
    SLOT_PROPERTY,
    SLOT_SESSION_ID,
    SLOT_USER_ID,
    decode_attribute,
    fixed64,
    iter_fields,
    malformed,
    own_event,
)
from sv_otel.translate._encode import AttributeEncoder, field, pack_fixed64, varint
from sv_otel.translate._envelope import ResourceLike, encode_request, iter_scopes
from sv_otel.translate.stats import TranslationStats

__all__ = ["SESSION_SPAN_NAME", "encode_spans", "events_to_spans", "spans_to_events"]

SESSION_SPAN_NAME: Final = "session activity"

_SPAN_ATTRIBUTE: Final = AttributeEncoder(b"\x4a")
_EVENT_ATTRIBUTE: Final = AttributeEncoder(b"\x1a")
_EVENT_PROPERTY: Final = AttributeEncoder(b"\x1a", attribute_key)
_NAME_AND_KIND = field(b"\x2a", SESSION_SPAN_NAME.encode()) + b"\x30\x01"


def events_to_spans(
    events: Sequence[Event], *, resource: ResourceLike | Mapping[str, object] | None = None
) -> ExportTraceServiceRequest:
    """Translate events into one OTLP traces request (see the module docstring for the model).

    Args:
        events: the events, e.g. ``parse_batch(body).events``.
        resource: resource attributes (an SDK ``Resource`` or a mapping); default
            ``{"service.name": "sessionvision"}``.
    """
    return ExportTraceServiceRequest.FromString(encode_spans(events, resource=resource))


def encode_spans(
    events: Sequence[Event], *, resource: ResourceLike | Mapping[str, object] | None = None
) -> bytes:
    """Like :func:`events_to_spans`, but return the serialised request (for exporters)."""
    out: list[bytes] = []
    size = 0
    run_start = 0
    for index in range(1, len(events) + 1):
        if index == len(events) or events[index].session_id != events[run_start].session_id:
            span = _encode_span(events, run_start, index)
            prefix = varint(len(span))
            out.append(b"\x12")
            out.append(prefix)
            out.append(span)
            size += 1 + len(prefix) + len(span)
            run_start = index
    return encode_request(out, size, resource)


def _encode_span(events: Sequence[Event], start: int, stop: int) -> bytes:
    first = events[start]
    timestamps = [event.timestamp for event in events[start:stop]]
    begin, finish = min(timestamps), max(timestamps)
    span_id = run_span_id(first.session_id, begin, finish, stop - start, first.event)
    parts = [
        b"\x0a\x10",
        session_trace_id(first.session_id),
        b"\x12\x08",
        span_id,
        _NAME_AND_KIND,
        b"\x39",
        pack_fixed64(begin * 1_000_000),
        b"\x41",
        pack_fixed64(finish * 1_000_000),
        _SPAN_ATTRIBUTE.encode(SESSION_ID, first.session_id),
    ]
    for event in events[start:stop]:
        body = [
            b"\x09",
            pack_fixed64(event.timestamp * 1_000_000),
            field(b"\x12", event.event.encode()),
        ]
        if event.user_id is not None:
            body.append(_EVENT_ATTRIBUTE.encode(USER_ID, event.user_id))
        if event.anonymous_id is not None:
            body.append(_EVENT_ATTRIBUTE.encode(ENDUSER_PSEUDO_ID, event.anonymous_id))
        for key, value in event.properties.items():
            body.append(_EVENT_PROPERTY.encode(key, value))
        parts.append(field(b"\x5a", b"".join(body)))
    return b"".join(parts)


def spans_to_events(
    request: ExportTraceServiceRequest | bytes, *, stats: TranslationStats | None = None
) -> list[Event]:
    """Translate an OTLP traces request (a message or its protobuf bytes) back into events.

    Spans of scope ``sessionvision`` give back the events they were made from; other spans become
    ``$span`` events, and their ``exception`` span events ``$exception`` events
    (:mod:`sv_otel.translate.backend`). Spans without a ``session.id`` are skipped and counted.

    Raises:
        InvalidOTLPError: the bytes are not a valid protobuf message.
    """
    buf = request if isinstance(request, bytes) else request.SerializeToString()
    stats = stats if stats is not None else TranslationStats()
    events: list[Event] = []
    try:
        for scope in iter_scopes(buf, stats, "span"):
            own = scope.name == SCOPE_NAME
            for start, end in scope.records:
                try:
                    made = _own_span(buf, start, end) if own else None
                    if made is None:
                        made = _backend_span(buf, start, end, scope.resource)
                except ValueTooDeepError as error:
                    stats.reject(f"span: {error.message}")
                    continue
                if not made:
                    stats.skipped += 1
                else:
                    stats.converted += len(made)
                    events.extend(made)
    except MALFORMED as error:
        raise malformed(error) from None
    return events


def _own_span(buf: bytes, start: int, end: int) -> list[Event] | None:
    session_id: JSONValue = None
    event_bodies: list[tuple[int, int]] = []
    for number, wire, a, b in iter_fields(buf, start, end):
        if number == 11 and wire == 2:
            event_bodies.append((a, b))
        elif number == 9 and wire == 2:
            key, _, _, value = decode_attribute(buf, a, b)
            if key == SESSION_ID:
                session_id = value
    if type(session_id) is not str:
        return None
    events = []
    for a, b in event_bodies:
        event = _own_event(buf, a, b, session_id)
        if event is None:
            return None
        events.append(event)
    return events


def _own_event(buf: bytes, start: int, end: int, session_id: str) -> Event | None:
    timestamp = 0
    name = ""
    user_id: JSONValue = None
    anonymous_id: JSONValue = None
    props: dict[str, JSONValue] = {}
    for number, wire, a, b in iter_fields(buf, start, end):
        if number == 3 and wire == 2:
            _, slot, key, value = decode_attribute(buf, a, b)
            if slot in (SLOT_PROPERTY, SLOT_SESSION_ID):
                props[key] = value
            elif slot == SLOT_USER_ID:
                user_id = value
            elif slot == SLOT_ANONYMOUS_ID:
                anonymous_id = value
        elif number == 1 and wire == 1:
            timestamp = fixed64(buf, a)[0] // 1_000_000
        elif number == 2 and wire == 2:
            name = buf[a:b].decode()
    return own_event(name, timestamp, props, session_id, user_id, anonymous_id)


def _backend_span(buf: bytes, start: int, end: int, resource: dict[str, JSONValue]) -> list[Event]:
    name = status_message = ""
    kind = status_code = start_ns = end_ns = 0
    trace_id = span_id = parent_span_id = b""
    attributes: dict[str, JSONValue] = {}
    exceptions: list[tuple[int, dict[str, JSONValue]]] = []
    for number, wire, a, b in iter_fields(buf, start, end):
        if number == 9 and wire == 2:
            key, _, _, value = decode_attribute(buf, a, b)
            attributes[key] = value
        elif number == 1 and wire == 2:
            trace_id = buf[a:b]
        elif number == 2 and wire == 2:
            span_id = buf[a:b]
        elif number == 4 and wire == 2:
            parent_span_id = buf[a:b]
        elif number == 5 and wire == 2:
            name = buf[a:b].decode("utf-8", "replace")
        elif number == 6 and wire == 0:
            kind = a
        elif number == 7 and wire == 1:
            start_ns = fixed64(buf, a)[0]
        elif number == 8 and wire == 1:
            end_ns = fixed64(buf, a)[0]
        elif number == 11 and wire == 2:
            exception = _exception(buf, a, b)
            if exception is not None:
                exceptions.append(exception)
        elif number == 15 and wire == 2:
            status_code, status_message = _status(buf, a, b)
    made: list[Event] = []
    event = backend.span_event(
        name=name,
        kind=kind,
        start_ns=start_ns,
        end_ns=end_ns,
        status_code=status_code,
        status_message=status_message,
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent_span_id,
        attributes=attributes,
        resource=resource,
    )
    if event is None:
        return made
    made.append(event)
    for time_ns, exception_attributes in exceptions:
        exception_event = backend.exception_event(
            time_ns=time_ns,
            attributes=exception_attributes,
            identity_attributes=attributes,
            trace_id=trace_id,
            span_id=span_id,
            resource=resource,
        )
        if exception_event is not None:
            made.append(exception_event)
    return made


def _exception(buf: bytes, start: int, end: int) -> tuple[int, dict[str, JSONValue]] | None:
    time_ns = 0
    name = ""
    attributes: dict[str, JSONValue] = {}
    for number, wire, a, b in iter_fields(buf, start, end):
        if number == 1 and wire == 1:
            time_ns = fixed64(buf, a)[0]
        elif number == 2 and wire == 2:
            name = buf[a:b].decode("utf-8", "replace")
        elif number == 3 and wire == 2:
            key, _, _, value = decode_attribute(buf, a, b)
            attributes[key] = value
    return (time_ns, attributes) if name == "exception" else None


def _status(buf: bytes, start: int, end: int) -> tuple[int, str]:
    code, message = 0, ""
    for number, wire, a, b in iter_fields(buf, start, end):
        if number == 3 and wire == 0:
            code = a
        elif number == 2 and wire == 2:
            message = buf[a:b].decode("utf-8", "replace")
    return code, message
