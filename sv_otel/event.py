"""The sessionvision event: the one data type every part of sv_otel exchanges.

An :class:`Event` is exactly what the sessionvision browser SDK sends::

    {
        "event": "purchase_completed",
        "timestamp": 1709856000000,
        "properties": {"amount": 49.99, "$current_url": "https://example.com/checkout"},
        "anonymousId": "550e8400-...",
        "userId": "user_456",
        "sessionId": "a1b2c3d4-...",
    }

Events are immutable (frozen) and cheap to create. The constructor does not validate: untrusted
bytes go through :func:`sv_otel.parse_batch`, which only ever yields valid events.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import msgspec

__all__ = ["Event", "JSONValue"]

JSONValue: TypeAlias = Any
"""A JSON value: ``str | int | float | bool | None | dict[str, JSONValue] | list[JSONValue]``.

(Spelled ``Any`` because a recursive alias would force ``cast`` at every use site.)"""


class Event(msgspec.Struct, frozen=True, kw_only=True, rename="camel", gc=False):
    """One sessionvision event.

    Attributes:
        event: the event name, e.g. ``"$pageview"`` or ``"purchase_completed"``.
        timestamp: when it happened, in integer epoch milliseconds.
        properties: JSON properties; keys starting with ``$`` are the SDK's automatic ones.
        anonymous_id: the browser's anonymous id (``anonymousId`` on the wire).
        user_id: the id given to ``identify()`` (``userId``), if any.
        session_id: the browser session (``sessionId``).
    """

    event: str
    timestamp: int
    properties: dict[str, JSONValue] = {}
    anonymous_id: str | None = None
    user_id: str | None = None
    session_id: str
