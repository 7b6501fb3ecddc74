"""The ``sessionvision`` and ``sessionvision_file`` exporter types of ``sv-otel serve``.

::

    exporters:
      sessionvision:                          # --export-sessionvision URL
        endpoint: https://app.sessionvision.com   # the SDK's ingestHost (required)
        token: ${env:SV_PROJECT_TOKEN}        # sent in the body envelope; absent: bare arrays
        headers: {X-Sessionvision-Token: ...} # extra request headers
        max_events: 500                       # per request
        max_bytes: 1MiB                       # JSON per request, before gzip
        timeout: 10s                          # per attempt
        max_concurrency: 8                    # requests in flight (and connections kept)
        compression_level: 1                  # gzip, 1 (fastest) to 9 (smallest)
        max_sessions: 1                       # sessions per request (1: one each, as the SDK)
        batch: {max_events: 8192}             # events read from the queue for one export
        retry_on_failure: {initial_interval: 1s, max_interval: 30s, multiplier: 1.5,
                           randomization_factor: 0.2, max_elapsed_time: 0}
      sessionvision_file:                     # the default without --export-sessionvision
        path: ./out/sessionvision.jsonl       # default <data_dir>/export/sessionvision.jsonl

Each export groups its batch by session, one post per session, so the exporter reads larger
batches from the queue than ``service.batch.max_events`` (its own ``batch.max_events``): with
many sessions per batch, posts rather than events are what costs. The client retries each
request as the SDK does (5xx, network errors and timeouts after 1 s,
2 s, 4 s); what still fails goes back to the queue, which retries the batch by
``retry_on_failure`` (for ever by default, so an outage loses nothing). A refusal (other 4xx)
dead-letters the batch. With several workers each writes its own file (``.<worker>`` before the
suffix); the pipelines of one worker share it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlsplit

from sv_otel.exporter.retry import RetryPolicy
from sv_otel.headers import checked_headers
from sv_otel.server.registry import ComponentContext
from sv_otel.server.section import ConfigSection
from sv_otel.sessionvision.batching import GZIP_LEVEL
from sv_otel.sessionvision.client import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_CONCURRENCY,
    DEFAULT_MAX_EVENTS,
    DEFAULT_TIMEOUT,
)
from sv_otel.sessionvision.exporter import SessionvisionExporter, SessionvisionExporterConfig
from sv_otel.sessionvision.file_exporter import SessionvisionFileExporter

__all__ = [
    "DEFAULT_BATCH_EVENTS",
    "SessionvisionFileSettings",
    "SessionvisionSettings",
    "create_sessionvision_exporter",
    "create_sessionvision_file_exporter",
    "parse_sessionvision_file_settings",
    "parse_sessionvision_settings",
]


DEFAULT_BATCH_EVENTS: Final = 8192
"""Events one ``sessionvision`` export carries at most: each session's share becomes one post."""


@dataclass(frozen=True)
class SessionvisionSettings:
    """The ``sessionvision`` exporter: the client's settings, headers and the queue's retries."""

    config: SessionvisionExporterConfig
    headers: dict[str, str] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_batch_events: int = DEFAULT_BATCH_EVENTS
    """The most events one export carries (the gateway reads its batches this large)."""


@dataclass(frozen=True)
class SessionvisionFileSettings:
    """The ``sessionvision_file`` exporter: ``path`` (None = the data directory's default)."""

    path: str | None = None


def parse_sessionvision_settings(section: ConfigSection) -> SessionvisionSettings:
    """Read an ``exporters.sessionvision`` section (see the module docstring)."""
    endpoint = section.string("endpoint", None)
    if endpoint is None:
        raise section.error("endpoint", "required (the ingest host, e.g. https://app.example.com)")
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise section.error(
            "endpoint",
            f"expected an http(s) URL such as https://app.sessionvision.com, got {endpoint!r}",
        )
    timeout = section.duration("timeout", DEFAULT_TIMEOUT)
    if timeout <= 0:
        raise section.error("timeout", "expected a duration above 0")
    config = SessionvisionExporterConfig(
        endpoint=endpoint,
        token=section.string("token", None),
        max_events=section.integer("max_events", DEFAULT_MAX_EVENTS, minimum=1),
        max_bytes=section.size("max_bytes", DEFAULT_MAX_BYTES),
        timeout=timeout,
        max_concurrency=section.integer("max_concurrency", DEFAULT_MAX_CONCURRENCY, minimum=1),
        compression_level=_level(section),
        max_sessions=section.integer("max_sessions", 1, minimum=1),
    )
    batch = section.section("batch")
    settings = SessionvisionSettings(
        config=config,
        headers=checked_headers(section.string_map("headers"), section.key_path("headers")),
        retry=RetryPolicy.from_section(section.section("retry_on_failure")),
        max_batch_events=batch.integer("max_events", DEFAULT_BATCH_EVENTS, minimum=1),
    )
    batch.finish()
    section.finish()
    return settings


def _level(section: ConfigSection) -> int:
    level = section.integer("compression_level", GZIP_LEVEL, minimum=1)
    if level > 9:
        raise section.error("compression_level", f"expected 1 to 9, got {level}")
    return level


def parse_sessionvision_file_settings(section: ConfigSection) -> SessionvisionFileSettings:
    """Read an ``exporters.sessionvision_file`` section (see the module docstring)."""
    settings = SessionvisionFileSettings(path=section.string("path", None))
    section.finish()
    return settings


def create_sessionvision_exporter(
    settings: SessionvisionSettings, context: ComponentContext
) -> SessionvisionExporter:
    """The registry's ``create`` for the ``sessionvision`` exporter type."""
    client = settings.config.client(settings.headers)
    return SessionvisionExporter(settings.config, name=context.name, client=client)


def create_sessionvision_file_exporter(
    settings: SessionvisionFileSettings, context: ComponentContext
) -> SessionvisionFileExporter:
    """The registry's ``create`` for the ``sessionvision_file`` exporter type."""
    if settings.path is None:
        path = context.data_dir / "export" / "sessionvision.jsonl"
    else:
        path = Path(settings.path)
    if context.workers > 1:
        path = path.with_name(f"{path.stem}.{context.worker}{path.suffix}")
    path.parent.mkdir(parents=True, exist_ok=True)
    return SessionvisionFileExporter(path, name=context.name)
