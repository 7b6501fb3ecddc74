"""Estimates of the memory a session's state takes, so that it can be bounded.

A session keeps what its events said (:mod:`sv_otel.sessions.state`): identify traits,
registered properties and metadata, some strings, linked trace ids. Browsers are not trusted, so
each part is bounded, and the processor bounds all its sessions together
(:attr:`~sv_otel.sessions.config.SessionConfig.max_memory_bytes`). These are the estimates both
bounds use: cheap, and close to what ``tracemalloc`` measures for the same data.
"""

from __future__ import annotations

from typing import Final

import msgspec

from sv_otel.event import JSONValue

__all__ = [
    "BASE_BYTES",
    "CONTAINER_BYTES",
    "ENTRY_BYTES",
    "MAX_PROPERTIES_BYTES",
    "TRACE_ID_BYTES",
    "entry_bytes",
    "text_bytes",
]

MAX_PROPERTIES_BYTES: Final = 8192
"""The memory one session's traits, registered properties and metadata may take together
(:func:`entry_bytes` of each entry)."""

ENTRY_BYTES: Final = 112
"""What an entry takes beyond its characters: the headers of its key and value objects and its
slot in the dict."""

CONTAINER_BYTES: Final = 72
"""What an array or object inside a value takes beyond its JSON (a nested ``[[],[],...]`` takes
far more memory than characters)."""

BASE_BYTES: Final = 640
"""A session's fixed part: the state object, its empty containers and its two slots in the
processor's dicts (``tracemalloc`` measures about 580 bytes)."""

TRACE_ID_BYTES: Final = 96
"""A linked trace id: a 32-character string and its list slot."""

_SCALAR_BYTES: Final = 8
_JSON: Final = msgspec.json.Encoder()


def text_bytes(text: str | None) -> int:
    """A string's estimate: one byte a character if it is ASCII, four otherwise (at most what
    CPython stores); none for None."""
    if text is None:
        return 0
    return len(text) if text.isascii() else 4 * len(text)


def entry_bytes(key: str, value: JSONValue, max_chars: int) -> int:
    """The estimate of a dict entry, or -1 if ``value`` is over ``max_chars`` characters as JSON.

    The key and a string value count as :func:`text_bytes`; an array or object as its JSON, plus
    :data:`CONTAINER_BYTES` for each array or object in it; a number, boolean or null as 8; and
    the entry itself :data:`ENTRY_BYTES`.
    """
    kind = type(value)
    containers = 0
    if kind is str:
        if len(value) > max_chars:
            return -1
        size = text_bytes(value)
    elif kind is dict or kind is list:
        encoded = _JSON.encode(value)
        if len(encoded) > max_chars:
            return -1
        size = len(encoded)
        containers = encoded.count(b"[") + encoded.count(b"{")
    else:
        size = _SCALAR_BYTES
    return text_bytes(key) + size + ENTRY_BYTES + CONTAINER_BYTES * containers
