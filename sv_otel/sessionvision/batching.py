"""Cutting events into ingest requests the way the browser SDK sends them (no I/O).

The SDK posts one session's events per request, as a JSON array, gzip-compressed. So do we:
events are grouped by session (sessions in order of first appearance, events in their original
order within a session), and each group is cut into requests of at most ``max_events`` events and
``max_bytes`` bytes of JSON (before compression). One event larger than ``max_bytes`` on its own
still gets a request, alone, and the ingest host decides.

With ``max_sessions`` above 1 (not the SDK's way, an option for hosts that take mixed batches),
consecutive sessions' groups are packed into one request while the limits allow, each session's
events still contiguous and in order.

A session whose events fit one request is encoded in one call (its list straight to a JSON
array); only a group too large for one request is cut event by event. Events already encoded by
session (a :class:`~sv_otel.session_json.SessionJson`, as a pipeline of sessionvision exporters
queues them) are taken as they are.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import msgspec
from isal import isal_zlib

from sv_otel.event import Event
from sv_otel.session_json import SessionJson, split_piece

__all__ = ["GZIP_LEVEL", "IngestRequest", "build_requests"]

GZIP_LEVEL: Final = 1
"""The fastest level. The browser's ``CompressionStream`` uses zlib's default (6). Level 1 is
compressed with ISA-L (``isal``, the same gzip format) at its level 1: on the benchmark's events,
about 0.3 microseconds an event for bodies 7.4 % of the JSON's size, where zlib takes 0.9 at
level 1 (7.8 %) and 2.6 at level 6 (6.3 %). Levels 2 to 9 use zlib at that level."""

_encode = msgspec.json.Encoder().encode


@dataclass(frozen=True, slots=True)
class IngestRequest:
    """One ``POST /api/v1/ingest/events`` body.

    Attributes:
        session_id: the session all its events belong to (the first one, when several
            sessions are packed into one request).
        events: how many events it carries.
        json_bytes: the size of the JSON before compression.
        body: the gzip-compressed JSON body.
        sessions: how many sessions' events it carries (1 unless packed).
    """

    session_id: str
    events: int
    json_bytes: int
    body: bytes
    sessions: int = 1

    @property
    def digest(self) -> bytes:
        """A hash of the JSON, the same for the same events at any gzip level (to recognise a
        resend); computed when asked, which only a partly failed export does."""
        return hashlib.blake2b(zlib.decompress(self.body, 31), digest_size=16).digest()


def build_requests(
    events: Sequence[Event] | SessionJson,
    *,
    max_events: int,
    max_bytes: int,
    token: str | None = None,
    gzip_level: int = GZIP_LEVEL,
    max_sessions: int = 1,
) -> list[IngestRequest]:
    """Group ``events`` by session and cut them into request bodies.

    Args:
        events: the events, any mix of sessions, or already encoded by session.
        max_events: most events in one request.
        max_bytes: most bytes of JSON in one request, before compression.
        token: a project token; when set, bodies are ``{"events": [...], "token": ...}``
            envelopes instead of bare arrays.
        gzip_level: the compression level (1 fastest, 9 smallest).
        max_sessions: most sessions in one request (1, the SDK's way, by default).

    Returns:
        The requests: each session's in order, sessions in order of first appearance.
    """
    batch = events if isinstance(events, SessionJson) else SessionJson.of_events(events)
    head, tail = _frame(token)
    overhead = len(head) + len(tail)
    parts = _parts(batch.pieces, max_events, max_bytes - overhead)
    if max_sessions > 1:
        parts = _pack(parts, max_sessions, max_events, max_bytes - overhead)
    return [_request(part, head, tail, gzip_level) for part in parts]


@dataclass(slots=True)
class _Part:
    """The JSON of consecutive events (``pieces`` joined by commas, no brackets), of one or
    more sessions."""

    session_id: str
    events: int
    pieces: list[bytes]
    size: int
    sessions: int = 1


def _parts(sessions: dict[str, list[tuple[int, bytes]]], max_events: int, room: int) -> list[_Part]:
    """Each session's events cut into parts of at most ``max_events`` and ``room`` bytes."""
    parts: list[_Part] = []
    for session_id, pieces in sessions.items():
        count = sum(piece[0] for piece in pieces)
        size = sum(len(piece[1]) for piece in pieces) + len(pieces) - 1  # joined by commas
        if count <= max_events and size <= room:
            parts.append(_Part(session_id, count, [piece[1] for piece in pieces], size))
            continue
        chunk: list[bytes] = []
        size = 0
        for _, piece in pieces:
            for encoded in split_piece(piece):
                grown = size + len(encoded) + (1 if chunk else 0)
                if chunk and (len(chunk) >= max_events or grown > room):
                    parts.append(_Part(session_id, len(chunk), chunk, size))
                    chunk, grown = [], len(encoded)
                chunk.append(encoded)
                size = grown
        if chunk:
            parts.append(_Part(session_id, len(chunk), chunk, size))
    return parts


def _pack(parts: list[_Part], max_sessions: int, max_events: int, room: int) -> list[_Part]:
    """Join consecutive parts of different sessions while every limit holds."""
    packed: list[_Part] = []
    for part in parts:
        last = packed[-1] if packed else None
        if (
            last is not None
            and last.sessions < max_sessions
            and last.events + part.events <= max_events
            and last.size + 1 + part.size <= room
        ):
            last.pieces += part.pieces
            last.size += 1 + part.size
            last.events += part.events
            last.sessions += 1
        else:
            packed.append(_Part(part.session_id, part.events, list(part.pieces), part.size))
    return packed


def _frame(token: str | None) -> tuple[bytes, bytes]:
    if token is None:
        return b"[", b"]"
    return b'{"events":[', b'],"token":' + _encode(token) + b"}"


def _request(part: _Part, head: bytes, tail: bytes, level: int) -> IngestRequest:
    pieces = part.pieces
    inside = pieces[0] if len(pieces) == 1 else b",".join(pieces)
    data = b"".join((head, inside, tail))
    return IngestRequest(
        session_id=part.session_id,
        events=part.events,
        json_bytes=len(data),
        body=_compress(data, level),
        sessions=part.sessions,
    )


def _compress(data: bytes, level: int) -> bytes:
    """gzip with a zero header time, so the same JSON gives the same bytes every time."""
    if level == 1:
        return isal_zlib.compress(data, 1, 31)
    return zlib.compress(data, level, 31)
