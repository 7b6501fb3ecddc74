"""Settings of the ``sessions`` processor of ``sv-otel serve`` (config type ``sessions``).

YAML, in the Collector's vocabulary (every key optional; the defaults are
:class:`~sv_otel.sessions.config.SessionConfig`'s)::

    processors:
      sessions:
        inactivity_timeout: 30m     # --session-timeout SECONDS
        max_duration: 24h
        max_sessions: 100000        # tracked at once; past it the least recently active ends
        max_memory: 256MiB          # their estimated memory; past it the least recently active end
        max_ended: 1000000          # ended ids remembered (late events never restart them)
        max_identities: 1000000     # visitors whose last session is remembered (previous id)
        idle_gap: 60s               # longer gaps are left out of the active length
        end_on_shutdown: true       # false: sessions stay open across a graceful restart
        project_id: sv_otel         # the summaries' Highlight project_id
        session_url: https://replay.example.com/sessions/{session_id}
        record_events: 1000         # events of each session kept for sv-otel sessions show
        max_file_size: 256MiB       # summaries.jsonl and events.jsonl rotate at this size
        start:                      # POST /api/v1/sessions/start; absent: not served
          enabled: true
          secret: ${env:SV_OTEL_SESSION_SECRET}   # --session-secret; at least 16 bytes
          token_ttl: 24h            # how long a session token verifies (default max_duration)

The signing secret is never exported or logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from sv_otel.server.section import ConfigSection
from sv_otel.sessions.config import SessionConfig
from sv_otel.sessions.token import MIN_SECRET_BYTES

__all__ = ["SESSION_SECRET_ENV", "SessionsSettings", "StartSettings", "parse_sessions_settings"]

SESSION_SECRET_ENV: Final = "SV_OTEL_SESSION_SECRET"
"""The variable ``sv-otel serve`` reads the start endpoint's secret from (``--session-secret``)."""

_DEFAULTS: Final = SessionConfig()
_SECRET_HINT: Final = (
    f"set it, or pass --session-secret or {SESSION_SECRET_ENV}; 32 random bytes are recommended"
)


@dataclass(frozen=True)
class StartSettings:
    """The start endpoint: its signing secret and how long its tokens verify (seconds)."""

    secret: bytes = field(repr=False)
    token_ttl: int


@dataclass(frozen=True)
class SessionsSettings:
    """Session tracking, and the start endpoint (None: not served)."""

    config: SessionConfig = field(default_factory=SessionConfig)
    start: StartSettings | None = None


def parse_sessions_settings(section: ConfigSection) -> SessionsSettings:
    """Read :class:`SessionsSettings` from a ``processors.sessions`` section.

    Raises:
        ConfigurationError: naming the key and the problem; in particular an enabled start
            endpoint without a secret of at least 16 bytes.
    """
    session_url = section.string("session_url", None)
    if session_url is not None and "{session_id}" not in session_url:
        raise section.error(
            "session_url",
            f"expected a link template containing {{session_id}}, got {session_url!r}",
        )
    project_id = section.string("project_id", _DEFAULTS.project_id)
    if not project_id:
        raise section.error("project_id", "expected a non-empty string")
    config = SessionConfig(
        inactivity_timeout=_positive_duration(
            section, "inactivity_timeout", _DEFAULTS.inactivity_timeout
        ),
        max_duration=_positive_duration(section, "max_duration", _DEFAULTS.max_duration),
        max_sessions=section.integer("max_sessions", _DEFAULTS.max_sessions, minimum=1),
        max_memory_bytes=section.size("max_memory", _DEFAULTS.max_memory_bytes),
        max_ended=section.integer("max_ended", _DEFAULTS.max_ended),
        max_identities=section.integer("max_identities", _DEFAULTS.max_identities),
        idle_gap=_positive_duration(section, "idle_gap", _DEFAULTS.idle_gap),
        end_on_shutdown=section.boolean("end_on_shutdown", _DEFAULTS.end_on_shutdown),
        project_id=project_id,
        session_url=session_url,
        record_events=section.integer("record_events", _DEFAULTS.record_events),
        max_file_bytes=section.size("max_file_size", _DEFAULTS.max_file_bytes),
    )
    present = section.has("start")
    start_section = section.section("start")  # read either way, so it is a known key
    start = _start(start_section, config) if present else None
    section.finish()
    return SessionsSettings(config, start)


def _start(section: ConfigSection, config: SessionConfig) -> StartSettings | None:
    enabled = section.boolean("enabled", True)
    secret = section.string("secret", None)
    ttl = section.duration("token_ttl", config.max_duration)
    if ttl < 1:
        raise section.error("token_ttl", f"expected at least 1s, got {ttl:g}s")
    section.finish()
    if not enabled:
        return None
    if not secret:
        raise section.error(
            "secret", f"required when the start endpoint is enabled ({_SECRET_HINT})"
        )
    data = secret.encode()
    if len(data) < MIN_SECRET_BYTES:
        raise section.error(
            "secret",
            f"{len(data)} bytes; the start endpoint needs at least {MIN_SECRET_BYTES} "
            f"({_SECRET_HINT})",
        )
    return StartSettings(secret=data, token_ttl=round(ttl))


def _positive_duration(section: ConfigSection, key: str, default: float) -> float:
    seconds = section.duration(key, default)
    if seconds <= 0:
        raise section.error(key, "expected a duration above 0")
    return seconds
