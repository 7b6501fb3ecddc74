"""Browser sessions as first-class OpenTelemetry data.

* :class:`SessionLifecycleProcessor`: ``session.start`` / ``session.end`` events, session
  summaries (``session.end`` attributes and Highlight Session documents), bounded state that
  survives restarts.
* :func:`sign_session_token` / :func:`verify_session_token` / :func:`session_token_verifier`:
  HMAC-signed session tokens that backends can trust.
* :class:`SessionStarter` and :func:`start_route`: the OpenReplay-style
  ``POST /api/v1/sessions/start``.
* :func:`list_sessions` / :func:`show_session`: what ``sv-otel sessions`` prints.

``sv-otel serve`` runs them as its ``sessions`` processor: :mod:`sv_otel.sessions.settings`
(the YAML settings) and :mod:`sv_otel.sessions.component` (the processor and its start route),
imported by the gateway only.

The Highlight Session JSON Schema the documents follow ships beside this module
(:data:`HIGHLIGHT_SCHEMA_PATH`).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from sv_otel.sessions.archive import SessionRecord, list_sessions, show_session
from sv_otel.sessions.config import SessionConfig, sessions_dir
from sv_otel.sessions.lifecycle import SessionLifecycleProcessor
from sv_otel.sessions.start import START_PATH, SessionStarter, StartResult
from sv_otel.sessions.summary import HIGHLIGHT_SCHEMA_PATH
from sv_otel.sessions.token import (
    SESSION_TOKEN_HEADER,
    TokenVerifier,
    session_token_verifier,
    sign_session_token,
    verify_session_token,
)

if TYPE_CHECKING:
    from sv_otel.sessions.asgi import EventSubmitter, start_app, start_route

_SERVED_BY_ASGI = frozenset({"EventSubmitter", "start_app", "start_route"})
"""Exports of :mod:`sv_otel.sessions.asgi`, imported on first use: they need starlette and the
ingest receiver, which a backend that only verifies session tokens should not load."""

__all__ = [
    "HIGHLIGHT_SCHEMA_PATH",
    "SESSION_TOKEN_HEADER",
    "START_PATH",
    "EventSubmitter",
    "SessionConfig",
    "SessionLifecycleProcessor",
    "SessionRecord",
    "SessionStarter",
    "StartResult",
    "TokenVerifier",
    "list_sessions",
    "session_token_verifier",
    "sessions_dir",
    "show_session",
    "sign_session_token",
    "start_app",
    "start_route",
    "verify_session_token",
]


def __getattr__(name: str) -> object:
    if name in _SERVED_BY_ASGI:
        return getattr(importlib.import_module("sv_otel.sessions.asgi"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
