"""When to retry an export, and how long to wait: pure functions of the failure.

The rules are the OTLP specification's (``specification/protocol/exporter.md`` and
``opentelemetry-proto/docs/specification.md``):

* HTTP: 429, 502, 503 and 504 are retryable, honouring ``Retry-After`` (seconds or an HTTP
  date); every other 4xx/5xx is permanent.
* gRPC: ``CANCELLED``, ``DEADLINE_EXCEEDED``, ``ABORTED``, ``OUT_OF_RANGE``, ``UNAVAILABLE``
  and ``DATA_LOSS`` are retryable; ``RESOURCE_EXHAUSTED`` only when the server sent
  ``RetryInfo`` (read from ``google.rpc.retryinfo-bin`` or ``grpc-status-details-bin``); every
  other code is permanent.
* Otherwise: exponential backoff with jitter (:class:`RetryPolicy`).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

from sv_otel.errors import ExportError, PermanentExportError, RetryableExportError
from sv_otel.exporter.answers import quote_answer
from sv_otel.server.section import ConfigSection

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRYABLE_GRPC_CODES",
    "RETRYABLE_HTTP_STATUSES",
    "RetryPolicy",
    "grpc_error",
    "grpc_retry_delay",
    "http_error",
    "parse_retry_after",
]

RETRYABLE_HTTP_STATUSES = frozenset({429, 502, 503, 504})
RETRYABLE_GRPC_CODES = frozenset(
    {
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DATA_LOSS,
    }
)
MAX_RETRY_AFTER = 300.0
"""A destination's retry hint is honoured up to this many seconds."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter (the Collector's ``retry_on_failure`` settings).

    Attributes:
        initial_interval: the first wait, in seconds.
        max_interval: the longest wait between two attempts.
        multiplier: the growth of the wait per attempt.
        randomization: the jitter: each wait is scaled by a uniform factor in ``1 ± this``.
        max_elapsed_time: give up (and dead-letter) after retrying this long; 0 = never give
            up, so an outage of any length loses nothing (the queue applies back-pressure).
    """

    initial_interval: float = 1.0
    max_interval: float = 30.0
    multiplier: float = 1.5
    randomization: float = 0.2
    max_elapsed_time: float = 0.0

    def delay(
        self, attempt: int, retry_after: float | None, rng: random.Random | None = None
    ) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry).

        The destination's hint (``Retry-After``, ``RetryInfo``; capped at
        :data:`MAX_RETRY_AFTER`) is a minimum, as in the Collector: the wait is the longer of the
        hint and the backoff, so a hint of 0, a date in the past or a negative delay never
        makes a tight loop.
        """
        base = min(self.initial_interval * self.multiplier ** (attempt - 1), self.max_interval)
        jitter = (rng or random).uniform(1 - self.randomization, 1 + self.randomization)
        backoff = float(base * jitter)
        if retry_after is None:
            return backoff
        return max(backoff, min(retry_after, MAX_RETRY_AFTER))

    def gives_up(self, elapsed: float) -> bool:
        """Whether retrying for ``elapsed`` seconds is enough."""
        return self.max_elapsed_time > 0 and elapsed >= self.max_elapsed_time

    @classmethod
    def from_section(cls, section: ConfigSection) -> RetryPolicy:
        """Read an exporter's ``retry_on_failure`` mapping (the Collector's keys)."""
        policy = cls(
            initial_interval=section.duration("initial_interval", 1.0),
            max_interval=section.duration("max_interval", 30.0),
            multiplier=section.number("multiplier", 1.5, minimum=1.0),
            randomization=section.number("randomization_factor", 0.2),
            max_elapsed_time=section.duration("max_elapsed_time", 0.0),
        )
        section.finish()
        return policy


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP-date).

    Returns:
        The delay, at least 0; None when the header is missing or unreadable.
    """
    if value is None:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # not "²", which isdigit() too
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    seconds = when.timestamp() - current
    return max(0.0, seconds) if math.isfinite(seconds) else None


def http_error(status: int, message: str, retry_after: str | None) -> ExportError:
    """The export error for an HTTP failure ``status`` (``message`` from the response)."""
    message = quote_answer(message)
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status in RETRYABLE_HTTP_STATUSES:
        return RetryableExportError(text, retry_after=parse_retry_after(retry_after))
    return PermanentExportError(text)


def grpc_retry_delay(trailing_metadata: Iterable[tuple[str, str | bytes]] | None) -> float | None:
    """The ``RetryInfo.retry_delay`` a gRPC server sent, in seconds, or None."""
    for key, value in trailing_metadata or ():
        if not isinstance(value, bytes):
            continue
        try:
            if key == "google.rpc.retryinfo-bin":
                info = RetryInfo.FromString(value)
                return float(info.retry_delay.ToNanoseconds()) / 1e9
            if key == "grpc-status-details-bin":
                status = Status.FromString(value)
                for detail in status.details:
                    info = RetryInfo()
                    if detail.Unpack(info):
                        return float(info.retry_delay.ToNanoseconds()) / 1e9
        except Exception:  # a malformed trailer is no hint, not a failure
            continue
    return None


def grpc_error(
    code: grpc.StatusCode,
    details: str | None,
    trailing_metadata: Iterable[tuple[str, str | bytes]] | None,
) -> ExportError:
    """The export error for a failed gRPC call."""
    details = quote_answer(details or "")
    text = f"gRPC {code.name}: {details}" if details else f"gRPC {code.name}"
    delay = grpc_retry_delay(trailing_metadata)
    if code in RETRYABLE_GRPC_CODES:
        return RetryableExportError(text, retry_after=delay)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED and delay is not None:
        return RetryableExportError(text, retry_after=delay)
    return PermanentExportError(text)
