"""A generated, reproducible corpus of sessionvision events for the benchmarks."""

from __future__ import annotations

import random
import uuid
from typing import Any

import msgspec

__all__ = ["make_bodies", "make_events"]

_NAMES = ["$pageview", "$click", "purchase_completed", "$identify", "signup", "$rage_click"]


def make_events(count: int, sessions: int = 2_000, seed: int = 7) -> list[dict[str, Any]]:
    """``count`` SDK-shaped events over ``sessions`` sessions, ~8 properties each."""
    rnd = random.Random(seed)
    people = [
        (
            str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            f"user_{i}" if i % 3 else None,
        )
        for i in range(sessions)
    ]
    timestamp = 1709856000000
    events = []
    for _ in range(count):
        session_id, anonymous_id, user_id = people[rnd.randrange(sessions)]
        timestamp += rnd.randrange(50)
        events.append(
            {
                "event": rnd.choice(_NAMES),
                "timestamp": timestamp,
                "properties": {
                    "$current_url": f"https://example.com/p/{rnd.randrange(200)}",
                    "$browser": rnd.choice(["Chrome", "Firefox", "Safari"]),
                    "$os": rnd.choice(["macOS", "Windows", "Linux"]),
                    "$device_type": "desktop",
                    "amount": round(rnd.random() * 100, 2),
                    "currency": "USD",
                    "item_count": rnd.randrange(10),
                    "plan": rnd.choice(["free", "pro", "enterprise"]),
                },
                "anonymousId": anonymous_id,
                "userId": user_id,
                "sessionId": session_id,
            }
        )
    return events


def make_bodies(events: list[dict[str, Any]], batch_size: int) -> list[bytes]:
    """Split ``events`` into JSON array bodies of ``batch_size`` events."""
    return [
        msgspec.json.encode(events[i : i + batch_size]) for i in range(0, len(events), batch_size)
    ]
