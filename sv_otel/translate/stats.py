"""Counters filled in while translating OTLP back into events."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["TranslationStats"]

_MAX_MESSAGES = 20


@dataclass(slots=True)
class TranslationStats:
    """What happened to the records of one or more requests.

    Pass one to :func:`~sv_otel.logs_to_events` or :func:`~sv_otel.spans_to_events` as ``stats=``.

    Attributes:
        converted: records that became events.
        skipped: records without any ``session.id`` (not an error: nothing to attach them to).
        rejected: records that carry a session id but cannot become an event.
        messages: the first 20 distinct reasons for rejections, in English.
    """

    converted: int = 0
    skipped: int = 0
    rejected: int = 0
    messages: list[str] = field(default_factory=list)

    def reject(self, message: str) -> None:
        """Count one rejected record and keep its reason (up to 20 distinct reasons)."""
        self.rejected += 1
        if len(self.messages) < _MAX_MESSAGES and message not in self.messages:
            self.messages.append(message)
