"""The session identity of one request, kept in the OpenTelemetry context, and user binding.

:class:`~sv_otel.linking.SessionPropagator` puts a fresh :class:`SessionIdentity` into the
context of every request it extracts (even one without a session, so the server can still bind
its user). Every span started and every log record emitted in that context, in child tasks and
in threads that carry the context, reads the same object; nothing is ever ``attach()``-ed.

The server adds the user it authenticated with :func:`sv_otel.bind_user`
(:mod:`sv_otel.linking.binding`).

This module is compiled with mypyc (``pyproject.toml``), with the processors and
:mod:`~sv_otel.linking.span_stamp`: :class:`SessionIdentity` is read on every span start, and
compiled code reads its fields directly. Its functions check their argument types, so the
public functions that must answer a wrong type with a :class:`~sv_otel.errors.ConfigurationError`
live in plain Python modules.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from opentelemetry import trace
from opentelemetry.context import Context, create_key, get_current, set_value

from sv_otel.attributes import CLIENT_USER_ID, ENDUSER_PSEUDO_ID, SESSION_ID, USER_ID
from sv_otel.linking.options import LinkingOptions
from sv_otel.linking.span_stamp import SpanStamp

__all__ = ["IDENTITY_KEY", "SessionIdentity", "current_session", "with_identity"]

IDENTITY_KEY: Final = create_key("sv_otel.session-identity")
"""The context key of the request's :class:`SessionIdentity`."""


@dataclass(eq=False, slots=True)
class SessionIdentity:
    """Who a request comes from, as read from its carriers (read it; do not assign to it).

    Attributes:
        session_id: the browser session, or None.
        client_user_id: the user id the browser asserted (not authenticated), or None.
        anonymous_id: the browser's anonymous (pseudonymous) id, or None.
        carrier: the header or baggage entry the session id came from, or None.
        verified: whether the session id came from a verified signed token.
        user_id: the user the server authenticated (:func:`sv_otel.bind_user`), or None.
    """

    session_id: str | None
    client_user_id: str | None = None
    anonymous_id: str | None = None
    carrier: str | None = None
    verified: bool = False
    user_id: str | None = None
    # Read directly by SessionSpanProcessor.on_start (a per-span hot path), not only here.
    _root: weakref.ref[trace.Span] | None = field(default=None, repr=False)
    _cache: tuple[LinkingOptions, SpanStamp] | None = field(default=None, repr=False)

    def attributes(self, options: LinkingOptions) -> Mapping[str, str]:
        """The attributes to stamp on spans and log records under ``options`` (cached)."""
        return self.stamp(options).attributes

    def stamp(self, options: LinkingOptions) -> SpanStamp:
        """:meth:`attributes` with the length of their longest value, built once per options."""
        cache = self._cache
        if cache is not None and (cache[0] is options or cache[0] == options):
            return cache[1]
        attributes: dict[str, str] = {}
        if self.session_id is not None:
            attributes[SESSION_ID] = self.session_id
            for key in options.alias_keys:
                attributes[key] = self.session_id
        if self.anonymous_id is not None:
            attributes[ENDUSER_PSEUDO_ID] = self.anonymous_id
        if self.client_user_id is not None:
            if options.trust_client_user_id:
                attributes[USER_ID] = self.client_user_id
            else:
                attributes[CLIENT_USER_ID] = self.client_user_id
        if self.user_id is not None:
            attributes[USER_ID] = self.user_id
        stamp = SpanStamp.of(attributes)
        self._cache = (options, stamp)
        return stamp

    def remember_root(self, span: trace.Span) -> None:
        """Remember the request's local root span (the first one), so a later bind reaches it."""
        if self._root is None:
            self._root = weakref.ref(span)

    def root_span(self) -> trace.Span | None:
        """The request's local root span, while it is alive."""
        return None if self._root is None else self._root()

    def bind(self, user_id: str) -> None:
        """Set the authenticated user (see :func:`sv_otel.bind_user`)."""
        self.user_id = user_id
        self._cache = None


def with_identity(identity: SessionIdentity, context: Context | None = None) -> Context:
    """Return ``context`` (default: the current one) carrying ``identity``."""
    return set_value(IDENTITY_KEY, identity, context)


def current_session(context: Context | None = None) -> SessionIdentity | None:
    """Return the session identity of ``context`` (default: the current one), or None."""
    identity = (get_current() if context is None else context).get(IDENTITY_KEY)
    return identity if isinstance(identity, SessionIdentity) else None
