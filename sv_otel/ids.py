"""Deterministic trace and span ids for sessions.

All telemetry of one session shares one trace id, so any trace UI shows the session as one trace:

* a session id that is a canonical UUID (lower-case, with dashes, not the nil UUID) *is* the trace
  id: ``a1b2c3d4-e5f6-4711-8899-aabbccddeeff`` becomes trace ``a1b2c3d4e5f647118899aabbccddeeff``,
  so the session can be pasted into a trace search as it is;
* any other session id hashes to ``SHA-256("sessionvision.session:" + id)[:16]``.
"""

from __future__ import annotations

import hashlib
import uuid
from functools import lru_cache

__all__ = ["run_span_id", "session_trace_id"]

_NIL = bytes(16)


def session_trace_id(session_id: str) -> bytes:
    """Return the 16-byte trace id of ``session_id`` (see the module docstring)."""
    if len(session_id) <= _CACHED_CHARS:
        return _cached_trace_id(session_id)
    return _trace_id(session_id)


def _trace_id(session_id: str) -> bytes:
    if len(session_id) == 36:
        try:
            parsed = uuid.UUID(session_id)
        except ValueError:
            pass
        else:
            if str(parsed) == session_id and parsed.bytes != _NIL:
                return parsed.bytes
    return hashlib.sha256(b"sessionvision.session:" + session_id.encode()).digest()[:16]


_CACHED_CHARS = 64
"""Ids up to this long are cached (UUIDs are 36): the cache takes at most about 8 MB."""
_cached_trace_id = lru_cache(maxsize=16_384)(_trace_id)


def run_span_id(
    session_id: str, first_ms: int, last_ms: int, count: int, first_event: str
) -> bytes:
    """Return the 8-byte span id of a run of one session's events (stable across retries)."""
    digest = hashlib.blake2b(
        f"{session_id}\0{first_ms}\0{last_ms}\0{count}\0{first_event}".encode(), digest_size=8
    ).digest()
    return digest if digest != bytes(8) else b"\0" * 7 + b"\1"
