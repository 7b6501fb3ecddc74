"""Prometheus counters of the sessionvision exporters, in the default registry.

* ``sv_otel_sessionvision_requests_total{outcome}``: ingest posts by outcome: ``delivered``,
  ``retried`` (an attempt that will be tried again), ``failed`` (retryable, retries used up),
  ``rejected`` (refused for good: the batch is dead-lettered);
* ``sv_otel_sessionvision_events_total{outcome}``: events by the same final outcomes
  (``delivered``, ``failed``, ``rejected``), plus ``written`` for the file exporter.
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter

__all__ = ["EVENTS", "REQUESTS", "count_attempt"]

REQUESTS: Final = Counter(
    "sv_otel_sessionvision_requests",
    "Posts to a sessionvision ingest host, by outcome.",
    ("outcome",),
)
EVENTS: Final = Counter(
    "sv_otel_sessionvision_events",
    "Events exported to sessionvision (ingest host or file), by outcome.",
    ("outcome",),
)


def count_attempt(outcome: str, events: int) -> None:
    """Count one post's outcome and, for final outcomes, its events."""
    REQUESTS.labels(outcome).inc()
    if events:
        EVENTS.labels(outcome).inc(events)
