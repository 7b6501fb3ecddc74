"""Small helpers shared by the tests."""

from __future__ import annotations

import gzip
from typing import Any

import msgspec


def event_json(**overrides: Any) -> dict[str, Any]:
    """A valid event as the SDK sends it, with ``overrides`` applied (``...`` deletes a key)."""
    event: dict[str, Any] = {
        "event": "purchase_completed",
        "timestamp": 1709856000000,
        "properties": {"amount": 49.99, "$current_url": "https://example.com/checkout"},
        "anonymousId": "550e8400-e29b-41d4-a716-446655440000",
        "userId": "user_456",
        "sessionId": "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
    }
    for key, value in overrides.items():
        if value is ...:
            del event[key]
        else:
            event[key] = value
    return event


def body(*events: Any) -> bytes:
    """A JSON array body of ``events``."""
    return msgspec.json.encode(list(events))


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)
