"""The gateway's Prometheus metrics, served as text on ``/metrics``.

===========================================  =======  ===================================
metric                                       labels   meaning
===========================================  =======  ===================================
``sv_otel_receiver_accepted_events_total``   receiver events written to the queue
``sv_otel_receiver_rejected_events_total``   receiver, events or requests refused; reason is
                                             reason   ``invalid_event`` (one event of a
                                                      batch) or the refused request's
                                                      problem (``bad_request``,
                                                      ``unauthenticated``, ``forbidden``,
                                                      ``too_large``, ``unsupported``,
                                                      ``timeout``, ``queue_full``,
                                                      ``overloaded``, ``origin``)
``sv_otel_queue_size_bytes``                 pipeline bytes waiting in the durable queue
``sv_otel_queue_size_events``                pipeline events waiting in the durable queue
``sv_otel_exporter_sent_events_total``       exporter events delivered
``sv_otel_exporter_retries_total``           exporter failed attempts that will be retried
``sv_otel_exporter_dead_lettered_events_total`` exporter events written to the dead-letter file
===========================================  =======  ===================================

Components may also count in prometheus_client's default registry (the OTLP receiver's and the
sessionvision exporters' counters do); ``/metrics`` shows those too. With several worker
processes, ``sv-otel serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` before it starts them and every
worker answers ``/metrics`` with the sum over all workers, of every counter.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

__all__ = ["CONTENT_TYPE", "GatewayMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class GatewayMetrics:
    """Every metric of one gateway process, in its own registry."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get(_MULTIPROC_ENV))
        self.registry = CollectorRegistry(auto_describe=True)
        registry = None if self.multiprocess else self.registry
        if self.multiprocess:
            # Reads every worker's files in PROMETHEUS_MULTIPROC_DIR (its __init__ is untyped).
            collect_all: Callable[[CollectorRegistry | None], Collector] = MultiProcessCollector
            self.registry.register(collect_all(None))
        self.accepted = Counter(
            "sv_otel_receiver_accepted_events",
            "Events accepted by a receiver and written to the durable queue.",
            ["receiver"],
            registry=registry,
        )
        self.rejected = Counter(
            "sv_otel_receiver_rejected_events",
            "Events (reason invalid_event) or whole requests (other reasons) refused.",
            ["receiver", "reason"],
            registry=registry,
        )
        self.queue_bytes = Gauge(
            "sv_otel_queue_size_bytes",
            "Bytes waiting in the durable queue.",
            ["pipeline"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.queue_events = Gauge(
            "sv_otel_queue_size_events",
            "Events waiting in the durable queue.",
            ["pipeline"],
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.sent = Counter(
            "sv_otel_exporter_sent_events",
            "Events delivered by an exporter.",
            ["exporter"],
            registry=registry,
        )
        self.retries = Counter(
            "sv_otel_exporter_retries",
            "Failed export attempts that will be retried.",
            ["exporter"],
            registry=registry,
        )
        self.dead_lettered = Counter(
            "sv_otel_exporter_dead_lettered_events",
            "Events an exporter could not deliver, written to the dead-letter file.",
            ["exporter"],
            registry=registry,
        )

    def render(self) -> bytes:
        """The Prometheus text exposition of every metric."""
        if self.multiprocess:  # the files of every worker hold every registry's counters
            return generate_latest(self.registry)
        return generate_latest(self.registry) + generate_latest(REGISTRY)
