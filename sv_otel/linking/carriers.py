"""The request carriers a browser session arrives in, and which one wins.

sv_otel's own headers (send these from a browser integration; allow them in CORS):

================================  ===============================================================
``X-Sessionvision-Session-Id``    the session id
``X-Sessionvision-User-Id``       the user id the browser knows (client-asserted)
``X-Sessionvision-Anonymous-Id``  the browser's anonymous id
``X-Sessionvision-Session-Token`` a signed session token (checked by a ``token_verifier``)
================================  ===============================================================

W3C ``baggage`` entries ``session.id`` and ``user.id`` are read too (the form Datadog's browser
SDK and the OpenTelemetry demo send, and the form sv_otel forwards to the next service), and,
for interoperability: ``X-POSTHOG-SESSION-ID`` / ``X-POSTHOG-DISTINCT-ID``,
``X-Highlight-Request`` (``<session>/<request>``), ``X-OpenReplay-SessionToken`` and Sentry's
``sentry-replay_id`` baggage entry.

**Precedence.** The session id comes from the first carrier in :data:`SESSION_PRECEDENCE` that
holds a clean one (see :mod:`sv_otel.linking.sanitise`); a verified session token, when a
verifier is configured, comes first of all. With ``require_signed`` only a verified token
counts. The client's user id comes from ``X-Sessionvision-User-Id``, else baggage ``user.id``;
the anonymous id from ``X-Sessionvision-Anonymous-Id``, else ``X-POSTHOG-DISTINCT-ID`` (PostHog's
distinct id is a pseudonymous id until the server authenticates the user). A header sent more
than once with different values is ambiguous and skipped, as is a rejected value: the next
carrier is tried.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Final

from sv_otel.linking.baggage import read_entries
from sv_otel.linking.identity import SessionIdentity
from sv_otel.linking.sanitise import MAX_TOKEN_LENGTH, clean_id, clean_token

__all__ = [
    "ANONYMOUS_ID_HEADER",
    "BAGGAGE_HEADER",
    "BAGGAGE_SESSION_ID",
    "BAGGAGE_USER_ID",
    "HEADERS",
    "HIGHLIGHT_REQUEST_HEADER",
    "OPENREPLAY_SESSION_TOKEN_HEADER",
    "POSTHOG_DISTINCT_ID_HEADER",
    "POSTHOG_SESSION_ID_HEADER",
    "SENTRY_REPLAY_ID",
    "SESSION_ID_HEADER",
    "SESSION_PRECEDENCE",
    "SESSION_TOKEN_HEADER",
    "USER_ID_HEADER",
    "HeaderGetter",
    "TokenVerifier",
    "read_identity",
]

_logger = logging.getLogger(__name__)

SESSION_ID_HEADER: Final = "X-Sessionvision-Session-Id"
USER_ID_HEADER: Final = "X-Sessionvision-User-Id"
ANONYMOUS_ID_HEADER: Final = "X-Sessionvision-Anonymous-Id"
SESSION_TOKEN_HEADER: Final = "X-Sessionvision-Session-Token"
HEADERS: Final = (SESSION_ID_HEADER, USER_ID_HEADER, ANONYMOUS_ID_HEADER, SESSION_TOKEN_HEADER)
"""sv_otel's own request headers, the list a browser integration sends (and CORS allows)."""

BAGGAGE_HEADER: Final = "baggage"
BAGGAGE_SESSION_ID: Final = "session.id"
BAGGAGE_USER_ID: Final = "user.id"
SENTRY_REPLAY_ID: Final = "sentry-replay_id"
POSTHOG_SESSION_ID_HEADER: Final = "X-POSTHOG-SESSION-ID"
POSTHOG_DISTINCT_ID_HEADER: Final = "X-POSTHOG-DISTINCT-ID"
HIGHLIGHT_REQUEST_HEADER: Final = "X-Highlight-Request"
OPENREPLAY_SESSION_TOKEN_HEADER: Final = "X-OpenReplay-SessionToken"

HeaderGetter = Callable[[str], Sequence[str] | None]
"""Returns the values of one request header (looked up by its lower-case name), or None."""

TokenVerifier = Callable[[str], str | None]
"""Returns the session id a signed session token vouches for, or None if it does not verify."""

_BAGGAGE_KEYS: Final = frozenset({BAGGAGE_SESSION_ID, BAGGAGE_USER_ID, SENTRY_REPLAY_ID})

# Getters look headers up by lower-case name (HTTP/2 and every OTel server getter normalise so).
_SESSION_ID: Final = SESSION_ID_HEADER.lower()
_USER_ID: Final = USER_ID_HEADER.lower()
_ANONYMOUS_ID: Final = ANONYMOUS_ID_HEADER.lower()
_SESSION_TOKEN: Final = SESSION_TOKEN_HEADER.lower()
_POSTHOG_SESSION_ID: Final = POSTHOG_SESSION_ID_HEADER.lower()
_POSTHOG_DISTINCT_ID: Final = POSTHOG_DISTINCT_ID_HEADER.lower()
_HIGHLIGHT_REQUEST: Final = HIGHLIGHT_REQUEST_HEADER.lower()
_OPENREPLAY_SESSION_TOKEN: Final = OPENREPLAY_SESSION_TOKEN_HEADER.lower()


class _Request:
    """One request's headers, each read (and the baggage parsed) at most once."""

    __slots__ = ("_baggage", "_get")

    def __init__(self, get: HeaderGetter) -> None:
        self._get = get
        self._baggage: dict[str, str] | None = None

    def header(self, name: str) -> str | None:
        """The one value of header ``name``; None if absent or sent with different values."""
        values = self._get(name)
        if not values:
            return None
        first = values[0]
        if len(values) > 1 and any(value != first for value in values):
            return None
        return first

    def baggage(self, key: str) -> str | None:
        if self._baggage is None:
            values = self._get(BAGGAGE_HEADER)
            self._baggage = read_entries(values, _BAGGAGE_KEYS) if values else {}
        return self._baggage.get(key)


def _own_session(request: _Request) -> str | None:
    return clean_id(request.header(_SESSION_ID))


def _baggage_session(request: _Request) -> str | None:
    return clean_id(request.baggage(BAGGAGE_SESSION_ID))


def _posthog_session(request: _Request) -> str | None:
    return clean_id(request.header(_POSTHOG_SESSION_ID))


def _highlight_session(request: _Request) -> str | None:
    value = request.header(_HIGHLIGHT_REQUEST)
    if value is None or len(value) > 2 * MAX_TOKEN_LENGTH:
        return None
    return clean_id(value.partition("/")[0])


def _openreplay_session(request: _Request) -> str | None:
    return clean_token(request.header(_OPENREPLAY_SESSION_TOKEN))


def _sentry_replay(request: _Request) -> str | None:
    return clean_id(request.baggage(SENTRY_REPLAY_ID))


SESSION_PRECEDENCE: Final[tuple[tuple[str, Callable[[_Request], str | None]], ...]] = (
    (SESSION_ID_HEADER, _own_session),
    (f"{BAGGAGE_HEADER} {BAGGAGE_SESSION_ID}", _baggage_session),
    (POSTHOG_SESSION_ID_HEADER, _posthog_session),
    (HIGHLIGHT_REQUEST_HEADER, _highlight_session),
    (OPENREPLAY_SESSION_TOKEN_HEADER, _openreplay_session),
    (f"{BAGGAGE_HEADER} {SENTRY_REPLAY_ID}", _sentry_replay),
)
"""The unsigned session carriers, highest precedence first: (carrier name, reader)."""


def _verified_session(request: _Request, verifier: TokenVerifier) -> str | None:
    token = clean_token(request.header(_SESSION_TOKEN))
    if token is None:
        return None
    try:
        session_id = verifier(token)
    except Exception:  # a verifier bug must not fail the request
        _logger.debug("token_verifier raised; the session token is ignored", exc_info=True)
        return None
    return clean_id(session_id)


def read_identity(
    get: HeaderGetter,
    *,
    token_verifier: TokenVerifier | None = None,
    require_signed: bool = False,
) -> SessionIdentity:
    """Read the session identity of one request by the module's precedence rules.

    Args:
        get: returns a header's values by its lower-case name.
        token_verifier: checks ``X-Sessionvision-Session-Token``; None skips the token.
        require_signed: accept only a session id vouched for by a verified token.

    Returns:
        The identity; its ``session_id`` is None when no carrier holds an acceptable one.
    """
    request = _Request(get)
    session_id: str | None = None
    carrier: str | None = None
    if token_verifier is not None:
        session_id = _verified_session(request, token_verifier)
        carrier = SESSION_TOKEN_HEADER if session_id is not None else None
    if session_id is None and not require_signed:
        for name, read in SESSION_PRECEDENCE:
            session_id = read(request)
            if session_id is not None:
                carrier = name
                break
    client_user_id = clean_id(request.header(_USER_ID)) or clean_id(
        request.baggage(BAGGAGE_USER_ID)
    )
    anonymous_id = clean_id(request.header(_ANONYMOUS_ID)) or clean_id(
        request.header(_POSTHOG_DISTINCT_ID)
    )
    return SessionIdentity(
        session_id=session_id,
        client_user_id=client_user_id,
        anonymous_id=anonymous_id,
        carrier=carrier,
        verified=carrier == SESSION_TOKEN_HEADER,
    )
