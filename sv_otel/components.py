"""The interfaces every adapter is written against: where events go in, and where they go out.

* An :class:`EventSink` is what a receiver hands accepted events to (the ingest endpoint, the
  OTLP receiver). ``submit`` returns once the events are durable; it raises
  :class:`~sv_otel.errors.QueueFullError` when there is no room, which receivers answer with
  503 + ``Retry-After`` (HTTP) or ``UNAVAILABLE`` + ``RetryInfo`` (gRPC).
* An :class:`EventExporter` delivers events to one destination (an OTLP backend, a sessionvision
  ingest host, a file). ``export`` makes one attempt and classifies failure as
  :class:`~sv_otel.errors.RetryableExportError` or
  :class:`~sv_otel.errors.PermanentExportError`; retrying, backoff and dead-lettering are the
  caller's job, so every exporter gets them the same way.
* A :class:`RequestExporter` is an :class:`EventExporter` that can also send a ready OTLP
  request (``export_request``): a logs pipeline whose exporters all can queues its events
  already translated, as OTLP log records, and hands them over without translating again.
* A :class:`SessionJsonExporter` can also send events already encoded as the sessionvision JSON
  of each session (``export_session_json``): a pipeline whose exporters all can queues its
  events in that form, encoded once on the way in.
* An :class:`EventProcessor` sits between the receivers and the durable queue of a pipeline: it
  sees every accepted batch and may add events (e.g. ``session.start`` / ``session.end``); the
  server also calls ``poll`` periodically and ``shutdown`` on a graceful stop, and submits what
  they return into the same pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from sv_otel.event import Event
from sv_otel.session_json import SessionJson

__all__ = [
    "EventExporter",
    "EventProcessor",
    "EventSink",
    "RequestExporter",
    "SessionJsonExporter",
]


class EventSink(Protocol):
    """Accepts events durably (see the module docstring)."""

    async def submit(self, events: Sequence[Event]) -> None:
        """Return once ``events`` are durable; raise ``QueueFullError`` if there is no room."""
        ...


class EventExporter(Protocol):
    """Delivers events to one destination (see the module docstring)."""

    name: str
    """The component name from the configuration, e.g. ``otlp`` or ``otlphttp/tempo``."""

    async def export(self, events: Sequence[Event]) -> None:
        """Deliver ``events`` once; raise ``RetryableExportError`` or ``PermanentExportError``."""
        ...

    async def shutdown(self) -> None:
        """Release connections and files; called once, after the last ``export``."""
        ...


@runtime_checkable
class RequestExporter(EventExporter, Protocol):
    """An exporter that also sends ready requests (see the module docstring)."""

    async def export_request(self, request: bytes, count: int) -> None:
        """Deliver a serialised ``Export*ServiceRequest`` of the exporter's signal, holding
        ``count`` records, once; raise as :meth:`EventExporter.export` does."""
        ...


@runtime_checkable
class SessionJsonExporter(EventExporter, Protocol):
    """An exporter that also sends events queued as sessionvision JSON by session."""

    async def export_session_json(self, batch: SessionJson) -> None:
        """Deliver ``batch`` once; raise as :meth:`EventExporter.export` does."""
        ...


class EventProcessor(Protocol):
    """Transforms the events of a pipeline before they are queued (see the module docstring)."""

    name: str
    """The component name from the configuration, e.g. ``sessions``."""

    def process(self, events: Sequence[Event], now_ms: int) -> list[Event]:
        """Return the events to pass on (the input, possibly with events added)."""
        ...

    def poll(self, now_ms: int) -> list[Event]:
        """Events that became due on their own (e.g. an inactivity timeout)."""
        ...

    def shutdown(self, now_ms: int) -> list[Event]:
        """Final events on a graceful stop."""
        ...
