"""Link backend traces and logs to browser sessions.

* :class:`SessionPropagator` reads the session from a request (sv_otel's headers, W3C baggage,
  PostHog, Highlight, OpenReplay and Sentry carriers) and forwards ``session.id`` in baggage.
* :class:`SessionSpanProcessor` / :class:`SessionLogRecordProcessor` stamp it on every span and
  log record made while serving that request.
* :func:`bind_user` records the user the server authenticated (``user.id``).
* :func:`instrument` installs all three in code (with signed sessions: ``session_secret``,
  ``require_signed``; see :mod:`sv_otel.linking.signed`);
  :class:`sv_otel.linking.configurator.SessionConfigurator` does it under
  ``opentelemetry-instrument`` with environment variables only (not imported here: only the
  ``opentelemetry_configurator`` entry point loads it).
"""

from sv_otel.linking.binding import bind_user
from sv_otel.linking.carriers import (
    ANONYMOUS_ID_HEADER,
    HEADERS,
    SESSION_ID_HEADER,
    SESSION_TOKEN_HEADER,
    USER_ID_HEADER,
    TokenVerifier,
)
from sv_otel.linking.identity import SessionIdentity, current_session
from sv_otel.linking.install import LinkingSetup, instrument
from sv_otel.linking.options import LinkingOptions
from sv_otel.linking.processors import SessionLogRecordProcessor, SessionSpanProcessor
from sv_otel.linking.propagator import SessionPropagator
from sv_otel.linking.signed import SigningOptions

__all__ = [
    "ANONYMOUS_ID_HEADER",
    "HEADERS",
    "SESSION_ID_HEADER",
    "SESSION_TOKEN_HEADER",
    "USER_ID_HEADER",
    "LinkingOptions",
    "LinkingSetup",
    "SessionIdentity",
    "SessionLogRecordProcessor",
    "SessionPropagator",
    "SessionSpanProcessor",
    "SigningOptions",
    "TokenVerifier",
    "bind_user",
    "current_session",
    "instrument",
]
