"""The ``sessionvision`` exporter: an :class:`~sv_otel.EventExporter` over :class:`IngestClient`.

Configuration (the ``sessionvision`` exporter type)::

    exporters:
      sessionvision:
        endpoint: https://app.sessionvision.com   # the SDK's ingestHost
        token: sv_pub_...                          # optional, sent in the body envelope
        max_events: 500                            # per request
        max_bytes: 1048576                         # JSON bytes per request, before gzip
        timeout: 10                                # seconds per attempt
        max_concurrency: 8
        compression_level: 1                       # gzip, 1 (fastest) to 9 (smallest)
        max_sessions: 1                            # sessions per request (1: the SDK's way)

One ``export`` posts every session's requests in parallel, each retried as the SDK does. When a
batch partly fails, the requests that were delivered are remembered (by a hash of their JSON), so
the queue's retry of the same batch sends only the rest: a 500 then 200 loses nothing and
duplicates nothing. Once a batch is done (delivered, or refused for good) the memory is cleared,
so the same events in a later batch are posted again, as at-least-once delivery wants. The
requests of a batch are built once: the retry of the same batch (the same sequence object, as
the delivery loop passes it) reuses them, and hashes are only computed after a partial failure.

``max_sessions`` above 1 packs several sessions' events (each session's contiguous) into one
request, for ingest hosts that take mixed batches; fewer, larger posts cost less.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import ClassVar, Final, TypeVar

import msgspec

from sv_otel.errors import ConfigurationError, PermanentExportError
from sv_otel.event import Event
from sv_otel.session_json import SessionJson
from sv_otel.sessionvision.batching import GZIP_LEVEL, IngestRequest
from sv_otel.sessionvision.client import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_EVENTS,
    DEFAULT_TIMEOUT,
    IngestClient,
    raise_worst,
)

__all__ = ["SessionvisionExporter", "SessionvisionExporterConfig"]

_REMEMBERED: Final = 4096
"""Delivered requests remembered for resends of a partly failed batch."""


@dataclass(frozen=True, slots=True)
class SessionvisionExporterConfig:
    """Settings of the ``sessionvision`` exporter (see the module docstring)."""

    endpoint: str
    token: str | None = None
    max_events: int = DEFAULT_MAX_EVENTS
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = DEFAULT_TIMEOUT
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    compression_level: int = GZIP_LEVEL
    max_sessions: int = 1

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> SessionvisionExporterConfig:
        """Read the configuration block of a ``sessionvision`` exporter.

        Raises:
            ConfigurationError: an unknown key, a missing ``endpoint``, or a value of the wrong
                type.
        """
        known = {field.name: field for field in fields(cls)}
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise ConfigurationError(
                f"sessionvision exporter: unknown setting {unknown[0]!r}; known: {', '.join(known)}"
            )
        if "endpoint" not in mapping:
            raise ConfigurationError("sessionvision exporter: 'endpoint' is required")
        endpoint = _typed(mapping, "endpoint", str)
        token = _typed(mapping, "token", str) if mapping.get("token") is not None else None
        return cls(
            endpoint=endpoint,
            token=token,
            max_events=_typed(mapping, "max_events", int, DEFAULT_MAX_EVENTS),
            max_bytes=_typed(mapping, "max_bytes", int, DEFAULT_MAX_BYTES),
            timeout=float(_typed(mapping, "timeout", (int, float), DEFAULT_TIMEOUT)),
            max_concurrency=_typed(mapping, "max_concurrency", int, DEFAULT_MAX_CONCURRENCY),
            compression_level=_typed(mapping, "compression_level", int, GZIP_LEVEL),
            max_sessions=_typed(mapping, "max_sessions", int, 1),
        )

    def client(self, headers: Mapping[str, str] | None = None) -> IngestClient:
        """An :class:`IngestClient` with these settings (and extra request ``headers``)."""
        return IngestClient(
            self.endpoint,
            token=self.token,
            max_events=self.max_events,
            max_bytes=self.max_bytes,
            timeout=self.timeout,
            max_concurrency=self.max_concurrency,
            gzip_level=self.compression_level,
            max_sessions=self.max_sessions,
            headers=headers,
        )


T = TypeVar("T")


def _typed(
    mapping: Mapping[str, object],
    key: str,
    kind: type[T] | tuple[type[T], ...],
    default: T | None = None,
) -> T:
    value = mapping.get(key, default)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if type(value) not in kinds or not isinstance(value, kinds):
        expected = " or ".join(k.__name__ for k in kinds)
        raise ConfigurationError(
            f"sessionvision exporter: {key}: expected {expected}, got {value!r}"
        )
    return value


class SessionvisionExporter:
    """Delivers events to a sessionvision ingest host.

    Args:
        config: the endpoint and limits.
        name: the component name, e.g. ``sessionvision`` or ``sessionvision/eu``.
        client: an existing client to use instead of one built from ``config`` (tests).
    """

    type: ClassVar[str] = "sessionvision"

    def __init__(
        self,
        config: SessionvisionExporterConfig,
        *,
        name: str = "sessionvision",
        client: IngestClient | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self._client = client or config.client()
        self._delivered: OrderedDict[bytes, None] = OrderedDict()
        # The last batch not done, and its requests.
        self._batch: Sequence[Event] | SessionJson | None = None
        self._requests: list[IngestRequest] = []

    async def export(self, events: Sequence[Event]) -> None:
        """Post ``events``; requests delivered by an earlier try of the same batch are skipped.

        Raises:
            RetryableExportError: some request failed after its retries (retry the batch).
            PermanentExportError: the host refused some request for good (dead-letter it).
        """
        await self._export(events)

    async def export_session_json(self, batch: SessionJson) -> None:
        """Post events queued as JSON by session, as :meth:`export` does."""
        await self._export(batch)

    async def _export(self, events: Sequence[Event] | SessionJson) -> None:
        if events is not self._batch:
            try:
                requests = self._client.requests(events)
            except msgspec.DecodeError as error:  # queued JSON damaged on disk
                raise PermanentExportError(f"queued events are damaged: {error}") from None
            self._batch, self._requests = events, requests
        requests = self._requests
        if self._delivered:
            requests = [r for r in requests if r.digest not in self._delivered]
        results = await asyncio.gather(
            *(self._client.post(r) for r in requests), return_exceptions=True
        )
        if all(result is None or isinstance(result, PermanentExportError) for result in results):
            self._delivered.clear()  # the batch is done: it will not be retried
            self._batch, self._requests = None, []
        else:
            for request, result in zip(requests, results, strict=True):
                if result is None:
                    self._remember(request.digest)
        raise_worst(requests, results)

    async def shutdown(self) -> None:
        """Close the client's connections."""
        await self._client.aclose()

    def _remember(self, digest: bytes) -> None:
        self._delivered[digest] = None
        if len(self._delivered) > _REMEMBERED:
            self._delivered.popitem(last=False)
