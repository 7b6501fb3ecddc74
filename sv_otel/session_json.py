"""Events as the sessionvision JSON that ingest hosts take, grouped by session (no I/O).

The sessionvision exporters post (or write) each session's events as a JSON array, so a
pipeline whose exporters are all sessionvision ones queues its events in that form: encoded once,
on the way in, instead of queued as events and encoded on the way out. A :class:`SessionJson`
holds the JSON of one or more batches: for each session (in order of first appearance), its
*pieces*, each the JSON objects of ``count`` consecutive events joined by commas, as inside a
JSON array. Joining a session's pieces with commas gives the inside of its array.

The queue stores a batch as :func:`encode_session_json` writes it: a msgpack map of session id
to ``[count, piece]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

import msgspec

from sv_otel.event import Event

__all__ = [
    "SessionJson",
    "encode_session_json",
    "group_by_session",
    "join_session_json",
    "split_piece",
]

_json = msgspec.json.Encoder().encode
_msgpack = msgspec.msgpack.Encoder().encode
_PAYLOAD: Final = msgspec.msgpack.Decoder(dict[str, tuple[int, bytes]])
_EVENTS: Final = msgspec.json.Decoder(list[Event])
_RAW: Final = msgspec.json.Decoder(list[msgspec.Raw])


class SessionJson:
    """The events of one or more batches as sessionvision JSON, by session.

    Attributes:
        pieces: session id -> its pieces, ``(count, JSON objects joined by commas)``, in order.
        events: how many events in all.
    """

    __slots__ = ("events", "pieces")

    def __init__(self) -> None:
        self.pieces: dict[str, list[tuple[int, bytes]]] = {}
        self.events = 0

    @classmethod
    def of_events(cls, events: Sequence[Event]) -> SessionJson:
        """Group ``events`` by session and encode each session's events in one call."""
        batch = cls()
        batch.pieces = {session_id: [piece] for session_id, piece in _encode(events).items()}
        batch.events = len(events)
        return batch

    @classmethod
    def of_payloads(cls, payloads: Iterable[bytes]) -> SessionJson:
        """Merge batches stored by :func:`encode_session_json`, in order.

        Raises:
            msgspec.DecodeError: a damaged payload.
        """
        batch = cls()
        pieces = batch.pieces
        for payload in payloads:
            for session_id, piece in _PAYLOAD.decode(payload).items():
                found = pieces.get(session_id)
                if found is None:
                    pieces[session_id] = [piece]
                else:
                    found.append(piece)
                batch.events += piece[0]
        return batch

    def to_events(self) -> list[Event]:
        """The events, session by session (each session's in order).

        Raises:
            msgspec.DecodeError: a piece that is not the JSON of events.
        """
        return [
            event
            for session in self.pieces.values()
            for _, piece in session
            for event in _EVENTS.decode(b"[" + piece + b"]")
        ]


def encode_session_json(events: Sequence[Event]) -> bytes:
    """A batch as the queue stores it: a msgpack map of session id to ``[count, piece]``."""
    return _msgpack(_encode(events))


def join_session_json(payloads: Sequence[bytes]) -> bytes:
    """One stored batch holding the events of ``payloads`` (stored batches), in order."""
    if len(payloads) == 1:
        return payloads[0]
    joined = SessionJson.of_payloads(payloads)
    return _msgpack(
        {
            session_id: (sum(count for count, _ in session), b",".join(p for _, p in session))
            for session_id, session in joined.pieces.items()
        }
    )


def _encode(events: Sequence[Event]) -> dict[str, tuple[int, bytes]]:
    """Each session's events as one piece, encoded in one call."""
    return {
        session_id: (len(group), _json(group)[1:-1])
        for session_id, group in group_by_session(events).items()
    }


def group_by_session(events: Iterable[Event]) -> dict[str, list[Event]]:
    """``events`` by session id: sessions in order of first appearance, events in order."""
    sessions: dict[str, list[Event]] = {}
    for event in events:
        group = sessions.get(event.session_id)
        if group is None:
            sessions[event.session_id] = [event]
        else:
            group.append(event)
    return sessions


def split_piece(piece: bytes) -> list[bytes]:
    """The JSON object of each event of a piece.

    Raises:
        msgspec.DecodeError: the piece is not a comma-separated list of JSON values.
    """
    return [bytes(raw) for raw in _RAW.decode(b"[" + piece + b"]")]
