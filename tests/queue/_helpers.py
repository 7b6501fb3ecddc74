"""Helpers shared by the queue tests."""

from __future__ import annotations

from sv_otel.event import Event


def events(*names: str) -> list[Event]:
    return [Event(event=name, timestamp=1, session_id="s") for name in names]
