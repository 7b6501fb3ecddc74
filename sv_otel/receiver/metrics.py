"""Prometheus counters of the OTLP receiver, registered in the default registry.

``sv-otel serve`` exposes them on ``/metrics`` with everything else:

* ``sv_otel_receiver_requests_total{transport, signal, outcome}``: requests by outcome: ``ok``,
  ``partial`` (partial success or warning), ``invalid`` (400), ``too_large`` (413),
  ``unauthenticated`` (401), ``unsupported`` (405 / 415 / 404), ``timeout`` (408, a body too
  slow), ``throttled`` (503: queue full, or too many bytes in flight), ``failed`` (500);
* ``sv_otel_receiver_events_total{signal}``: events handed to the sink;
* ``sv_otel_receiver_records_skipped_total{signal}``: records without a ``session.id``;
* ``sv_otel_receiver_records_rejected_total{signal}``: records with a session id that could not
  become events (reported in ``partial_success``);
* ``sv_otel_receiver_metric_points_dropped_total``: metric data points accepted, not converted;
* ``sv_otel_receiver_in_flight_bytes{transport}`` (gauge): bytes of request bodies, raw and
  decompressed, that the requests in flight hold (see :mod:`sv_otel.receiver.admission`).
"""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

from sv_otel.receiver.convert import Conversion

__all__ = [
    "EVENTS",
    "IN_FLIGHT_BYTES",
    "METRIC_POINTS_DROPPED",
    "RECORDS_REJECTED",
    "RECORDS_SKIPPED",
    "REQUESTS",
    "count_conversion",
    "count_request",
]

REQUESTS: Final = Counter(
    "sv_otel_receiver_requests",
    "OTLP export requests received, by transport, signal and outcome.",
    ("transport", "signal", "outcome"),
)
EVENTS: Final = Counter(
    "sv_otel_receiver_events",
    "Events converted from OTLP records and handed to the sink.",
    ("signal",),
)
RECORDS_SKIPPED: Final = Counter(
    "sv_otel_receiver_records_skipped",
    "OTLP records skipped because they carry no session.id.",
    ("signal",),
)
RECORDS_REJECTED: Final = Counter(
    "sv_otel_receiver_records_rejected",
    "OTLP records with a session.id that could not be converted (partial success).",
    ("signal",),
)
METRIC_POINTS_DROPPED: Final = Counter(
    "sv_otel_receiver_metric_points_dropped",
    "Metric data points accepted but not converted (metrics have no sessionvision form).",
)

IN_FLIGHT_BYTES: Final = Gauge(
    "sv_otel_receiver_in_flight_bytes",
    "Bytes of OTLP request bodies (raw and decompressed) held by the requests in flight.",
    ("transport",),
    multiprocess_mode="livesum",
)


def count_request(transport: str, signal: str, outcome: str) -> None:
    """Count one request's outcome."""
    REQUESTS.labels(transport, signal, outcome).inc()


def count_conversion(conversion: Conversion) -> None:
    """Count what one accepted request's records became."""
    name = conversion.signal.name
    stats = conversion.stats
    if conversion.events:
        EVENTS.labels(name).inc(len(conversion.events))
    if stats.skipped:
        RECORDS_SKIPPED.labels(name).inc(stats.skipped)
    if stats.rejected:
        RECORDS_REJECTED.labels(name).inc(stats.rejected)
    if conversion.dropped_points:
        METRIC_POINTS_DROPPED.inc(conversion.dropped_points)
