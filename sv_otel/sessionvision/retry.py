"""The sessionvision ingest retry policy, as pure functions (no I/O).

The browser SDK retries failed posts on 5xx only, after 1 s, 2 s and 4 s. :class:`IngestClient`
does the same, and also retries network errors and timeouts (the SDK's ``fetch`` would reject and
retry those too); a ``Retry-After`` header replaces the scheduled delay. What is left after the
last attempt is classified for the caller's queue:

======================  =========================  ==========================================
answer                  retried here               then
======================  =========================  ==========================================
2xx                     -                          delivered
5xx, network, timeout   yes, 1 s / 2 s / 4 s       ``RetryableExportError`` (queue retries)
429                     no (the SDK does not)      ``RetryableExportError`` with Retry-After
other 3xx / 4xx         no                         ``PermanentExportError`` (dead-lettered)
======================  =========================  ==========================================
"""

from __future__ import annotations

from enum import Enum
from typing import Final

from sv_otel.exporter.retry import parse_retry_after

__all__ = [
    "DEFAULT_RETRY_DELAYS",
    "MAX_RETRY_AFTER",
    "Verdict",
    "classify",
    "parse_retry_after",
    "retry_delay",
]

DEFAULT_RETRY_DELAYS: Final = (1.0, 2.0, 4.0)
"""Seconds to wait before the 2nd, 3rd and 4th attempt (the SDK's schedule)."""

MAX_RETRY_AFTER: Final = 60.0
"""The longest ``Retry-After`` honoured inside one export; longer hints go to the queue."""


class Verdict(Enum):
    """What an HTTP answer means for the request."""

    DELIVERED = "delivered"
    RETRY = "retry"
    THROTTLED = "throttled"
    REJECTED = "rejected"


def classify(status: int) -> Verdict:
    """Classify an ingest answer by its status code."""
    if 200 <= status < 300:
        return Verdict.DELIVERED
    if status >= 500:
        return Verdict.RETRY
    if status == 429:
        return Verdict.THROTTLED
    return Verdict.REJECTED


def retry_delay(
    attempt: int, retry_after: float | None, delays: tuple[float, ...] = DEFAULT_RETRY_DELAYS
) -> float | None:
    """Seconds to wait after failed attempt number ``attempt`` (0-based), or None to stop.

    ``Retry-After`` (capped at :data:`MAX_RETRY_AFTER`) lengthens the scheduled delay, never
    shortens it: a hint of 0 or a date in the past must not make a tight loop.
    """
    if attempt >= len(delays):
        return None
    if retry_after is not None:
        return max(delays[attempt], min(retry_after, MAX_RETRY_AFTER))
    return delays[attempt]
