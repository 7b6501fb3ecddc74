"""Settings of session tracking, and where its files live in the data directory.

Everything the lifecycle processor writes lives under ``<data dir>/sessions/``::

    state.sqlite3       the sessions being tracked, ids of ended sessions, the last session of
                        each anonymous and user id (so a restart neither forgets nor repeats)
    summaries.jsonl     one Highlight Session document per ended session, one a line
    events.jsonl        the events of each session (up to ``record_events`` a session) and its
                        lifecycle events, one sessionvision event a line
    lock                locked (flock) by each processor call, so that processes sharing
                        the directory (a gateway's workers) take turns

The two ``.jsonl`` files rotate at ``max_file_bytes`` to ``<name>.1`` (one older generation is
kept), so the directory stays within about four times that size.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Final

from sv_otel.errors import ConfigurationError

__all__ = [
    "DEFAULT_INACTIVITY_TIMEOUT",
    "DEFAULT_MAX_DURATION",
    "DEFAULT_MAX_MEMORY_BYTES",
    "DEFAULT_MAX_SESSIONS",
    "DEFAULT_PROJECT_ID",
    "EVENTS_FILE",
    "SESSIONS_DIR",
    "STATE_FILE",
    "SUMMARIES_FILE",
    "SessionConfig",
    "sessions_dir",
]

SESSIONS_DIR: Final = "sessions"
"""The sub-directory of the data directory that holds session files."""

STATE_FILE: Final = "state.sqlite3"
SUMMARIES_FILE: Final = "summaries.jsonl"
EVENTS_FILE: Final = "events.jsonl"
LOCK_FILE: Final = "lock"

DEFAULT_INACTIVITY_TIMEOUT: Final = 30 * 60.0
"""Seconds without an event after which a session ends (``sv-otel serve --session-timeout``)."""

DEFAULT_MAX_DURATION: Final = 24 * 3600.0
"""Seconds after its start at which a session ends however active it is."""

DEFAULT_PROJECT_ID: Final = "sv_otel"
"""The Highlight ``project_id`` of summaries unless configured."""

DEFAULT_MAX_SESSIONS: Final = 100_000
"""Sessions tracked at once; past it the least recently active one is ended ("evicted")."""

DEFAULT_MAX_MEMORY_BYTES: Final = 256 * 1024 * 1024
"""The estimated memory of the tracked sessions together; past it the least recently active end."""


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """How sessions are tracked and summarised.

    Attributes:
        inactivity_timeout: seconds without an event (by the server's clock) after which a
            session ends with reason ``timeout`` (default 30 minutes).
        max_duration: seconds after a session's first event (server clock) at which it ends with
            reason ``max_duration`` (default 24 hours).
        max_sessions: sessions tracked at once (default 100 000). A new session past the cap
            ends the least recently active one with reason ``evicted``.
        max_memory_bytes: the memory the tracked sessions may take together, as estimated by
            :mod:`sv_otel.sessions.memory` (default 256 MiB; a session takes about 1 KB
            typically, at most about 50 KB). Past it, the least recently active sessions end
            with reason ``evicted``.
        max_ended: ids of ended sessions remembered, so that their late events never start them
            again (default 1 000 000; the oldest are forgotten first).
        max_identities: anonymous and user ids whose last session is remembered for
            ``session.previous_id`` (default 1 000 000; least recently used forgotten first).
            Sessions and visitors with ids over 256 characters are not kept at all
            (:data:`sv_otel.sessions.run.MAX_ID_CHARS`).
        idle_gap: seconds between two events above which the gap counts as idle and is left
            out of the active length (default 60).
        end_on_shutdown: whether :meth:`shutdown` ends every session (reason ``shutdown``).
            With False the sessions stay open on disk and continue after a restart.
        project_id: the Highlight ``project_id`` written into summaries.
        session_url: optional link template for the summaries' ``url``, with ``{session_id}``,
            e.g. ``https://replay.example.com/sessions/{session_id}``.
        record_events: events of each session written to ``events.jsonl`` for
            ``sv-otel sessions show`` (default 1 000; 0 records none).
        max_file_bytes: size at which ``summaries.jsonl`` and ``events.jsonl`` rotate
            (default 256 MiB).
    """

    inactivity_timeout: float = DEFAULT_INACTIVITY_TIMEOUT
    max_duration: float = DEFAULT_MAX_DURATION
    max_sessions: int = DEFAULT_MAX_SESSIONS
    max_memory_bytes: int = DEFAULT_MAX_MEMORY_BYTES
    max_ended: int = 1_000_000
    max_identities: int = 1_000_000
    idle_gap: float = 60.0
    end_on_shutdown: bool = True
    project_id: str = DEFAULT_PROJECT_ID
    session_url: str | None = None
    record_events: int = 1_000
    max_file_bytes: int = 256 * 1024 * 1024

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.type == "float" and not (
                type(value) in (int, float) and 0 < value < float("inf")
            ):
                raise ConfigurationError(
                    f"SessionConfig.{item.name}: expected a positive number of seconds, "
                    f"got {value!r}"
                )
            if item.type == "int" and (type(value) is not int or value < 0):
                raise ConfigurationError(
                    f"SessionConfig.{item.name}: expected a non-negative integer, got {value!r}"
                )
        if type(self.end_on_shutdown) is not bool:
            raise ConfigurationError(
                f"SessionConfig.end_on_shutdown: expected a boolean, got {self.end_on_shutdown!r}"
            )
        for name in ("max_sessions", "max_memory_bytes", "max_file_bytes"):
            if getattr(self, name) < 1:
                raise ConfigurationError(f"SessionConfig.{name}: must be at least 1")
        if type(self.project_id) is not str or not self.project_id:
            raise ConfigurationError("SessionConfig.project_id: expected a non-empty string")
        if self.session_url is not None and "{session_id}" not in self.session_url:
            raise ConfigurationError(
                "SessionConfig.session_url: expected a template containing {session_id}, "
                f"got {self.session_url!r}"
            )

    @property
    def inactivity_timeout_ms(self) -> int:
        """:attr:`inactivity_timeout` in milliseconds."""
        return round(self.inactivity_timeout * 1000)

    @property
    def max_duration_ms(self) -> int:
        """:attr:`max_duration` in milliseconds."""
        return round(self.max_duration * 1000)

    @property
    def idle_gap_ms(self) -> int:
        """:attr:`idle_gap` in milliseconds."""
        return round(self.idle_gap * 1000)


def sessions_dir(data_dir: str | Path) -> Path:
    """Return the directory of session files inside ``data_dir``."""
    return Path(data_dir) / SESSIONS_DIR
