"""Reading and writing sessionvision batches: :func:`parse_batch` and :func:`dump_events`.

A batch body is what the browser SDK posts to ``/api/v1/ingest/events``, in any of these shapes,
optionally gzip-compressed (by ``Content-Encoding`` or recognised by its magic bytes)::

    [{"event": ..., "timestamp": ..., ...}, ...]     # the SDK's array
    {"events": [...], "token": "sv_pub_..."}         # an envelope with a project token
    {"event": ...}\\n{"event": ...}\\n                 # JSON lines: an event (or batch) a line

Valid events are kept even when others in the same batch are rejected; a body that is not JSON at
all raises :class:`~sv_otel.errors.InvalidBatchError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

import msgspec

from sv_otel.decompress import decompress_body
from sv_otel.errors import InvalidBatchError, PayloadTooLargeError
from sv_otel.event import Event, JSONValue
from sv_otel.jsontext import loads_json
from sv_otel.limits import Limits
from sv_otel.validate import event_from_json, within_limits

__all__ = ["INGEST_PATH", "ParsedBatch", "Rejection", "dump_events", "parse_batch"]

INGEST_PATH: Final = "/api/v1/ingest/events"
"""The path the browser SDK posts its batches to, under its ``ingestHost``."""

_DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Rejection:
    """One event that was not accepted: its position in the batch and why."""

    index: int
    message: str


@dataclass(slots=True)
class ParsedBatch:
    """The outcome of :func:`parse_batch`.

    Attributes:
        events: the valid events, in batch order.
        rejected: one :class:`Rejection` per invalid event, in batch order.
        token: the envelope's ``token``, if the body had one.
    """

    events: list[Event] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    token: str | None = None


class _Envelope(msgspec.Struct, frozen=True):
    events: list[Event]
    token: str | None = None


_TYPED = msgspec.json.Decoder(list[Event] | _Envelope)
_ENCODER = msgspec.json.Encoder()


def parse_batch(
    body: bytes,
    *,
    content_encoding: str | None = None,
    limits: Limits | None = None,
) -> ParsedBatch:
    """Decode and validate one sessionvision batch.

    Args:
        body: the request body, gzip-compressed or not.
        content_encoding: the ``Content-Encoding`` header, if any.
        limits: size limits; defaults to :class:`~sv_otel.limits.Limits` ``()``.

    Returns:
        The valid events and a :class:`Rejection` (index and message) for each invalid one.

    Raises:
        InvalidBatchError: the body is not JSON, or not an event list (400).
        PayloadTooLargeError: over ``max_body_bytes`` after decompression or ``max_events`` (413).
        UnsupportedEncodingError: an unknown ``Content-Encoding`` (415).
    """
    limits = limits or _DEFAULT_LIMITS
    data = decompress_body(body, content_encoding, limits.max_body_bytes)
    try:
        typed = _TYPED.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError):
        return _parse_slow(data, limits)
    if isinstance(typed, _Envelope):
        events, token = typed.events, typed.token
    else:
        events, token = typed, None
    _check_count(len(events), limits)
    if all(within_limits(event, limits) for event in events):
        return ParsedBatch(events=events, token=token)
    # Some event breaks a limit: redo those with the detailed validator for exact messages.
    batch = ParsedBatch(token=token)
    for index, event in enumerate(events):
        if within_limits(event, limits):
            batch.events.append(event)
        else:
            _add(batch, event_from_json(msgspec.to_builtins(event), index, limits), index)
    return batch


def dump_events(events: Iterable[Event]) -> bytes:
    """Serialise events as the SDK's payload: a JSON array of event objects (UTF-8)."""
    return _ENCODER.encode(events if isinstance(events, list) else list(events))


def _parse_slow(data: bytes, limits: Limits) -> ParsedBatch:
    """Decode untyped JSON (or JSON lines) and validate event by event, with messages."""
    if not data.strip():
        raise InvalidBatchError("body: empty")
    try:
        document = loads_json(data)
    except InvalidBatchError as error:
        if b"\n" not in data.strip():
            raise
        document = _loads_lines(data, error)
    batch = ParsedBatch()
    raw_events = _raw_events(document, batch)
    _check_count(len(raw_events), limits)
    for index, raw in enumerate(raw_events):
        _add(batch, event_from_json(raw, index, limits), index)
    return batch


def _loads_lines(data: bytes, first_error: InvalidBatchError) -> JSONValue:
    documents: list[JSONValue] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            documents.append(loads_json(line))
        except InvalidBatchError as error:
            if number == 1:
                raise first_error from None
            raise InvalidBatchError(
                f"line {number}: {error.message.removeprefix('body: ')}"
            ) from None
    events: list[JSONValue] = []
    for document in documents:
        if type(document) is dict and "events" in document:
            document = document["events"]
        if type(document) is list:
            events.extend(document)
        else:
            events.append(document)
    return events


def _raw_events(document: JSONValue, batch: ParsedBatch) -> list[JSONValue]:
    if type(document) is list:
        return document
    if type(document) is dict:
        if "events" not in document:
            return [document]  # a single event object
        token = document.get("token")
        if token is not None and type(token) is not str:
            raise InvalidBatchError(f"body.token: expected a string, got {type(token).__name__}")
        batch.token = token
        events = document["events"]
        if type(events) is not list:
            raise InvalidBatchError("body.events: expected an array of events")
        return events
    raise InvalidBatchError(
        'body: expected a JSON array of events or an object with "events", '
        f"got {_json_type(document)}"
    )


def _add(batch: ParsedBatch, outcome: Event | str, index: int) -> None:
    if isinstance(outcome, str):
        batch.rejected.append(Rejection(index, outcome))
    else:
        batch.events.append(outcome)


def _check_count(count: int, limits: Limits) -> None:
    if count > limits.max_events:
        raise PayloadTooLargeError(
            f"body: {count} events, over the limit of {limits.max_events} per batch"
        )


def _json_type(value: JSONValue) -> str:
    names = {str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
