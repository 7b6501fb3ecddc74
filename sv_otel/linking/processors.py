"""Stamp the request's session on every span and log record.

Both read the :class:`~sv_otel.linking.SessionIdentity` that the propagator put into the context
(the span's ``parent_context``, the log record's context), so child spans, asyncio tasks and
threads that carry the context are covered, and a span started in a context without a session
gets nothing. Neither ever calls ``attach()``, and neither raises into the application: an
internal error is logged (the first with its traceback, the rest at debug level) and the span or
record goes on unchanged.

Stamped: ``session.id``; ``enduser.pseudo.id`` (the browser's anonymous id);
``sessionvision.client.user.id`` (the user id the browser asserted); ``user.id`` (the user the
server bound with :func:`sv_otel.bind_user`); optionally vendor aliases (``highlight.session_id``,
``sessionId``), and on each request's local root span a link to the session's trace.

A log record keeps every attribute it already has. A span is stamped as it starts, as
``set_attributes`` would stamp it (the attributes are written by :func:`stamp_span`, which skips
the SDK's re-validation when it provably changes nothing): to record another session on a span,
set ``session.id`` on it after it has started; the later value wins.

This module is compiled with mypyc (``pyproject.toml``; :meth:`SessionSpanProcessor.on_start`
runs for every span); both processors stay open to subclassing.

Add the log processor **before** the processors that export (``SimpleLogRecordProcessor``
exports inside ``emit``, so a processor added after it is too late); span processors may come
in any order, since attributes set at start are there when the span ends.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, MutableMapping
from typing import Final

from mypy_extensions import mypyc_attr
from opentelemetry._logs import SeverityNumber
from opentelemetry.context import Context, get_current
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord
from opentelemetry.sdk.trace import Span, SpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags
from opentelemetry.util.types import AnyValue

from sv_otel.attributes import SESSION_ID
from sv_otel.ids import session_trace_id
from sv_otel.linking.identity import IDENTITY_KEY, SessionIdentity, current_session
from sv_otel.linking.options import LinkingOptions
from sv_otel.linking.span_stamp import stamp_span

__all__ = ["SessionLogRecordProcessor", "SessionSpanProcessor", "session_link_context"]

_logger = logging.getLogger(__name__)

_SAMPLED: Final = TraceFlags(TraceFlags.SAMPLED)


def session_link_context(session_id: str) -> SpanContext:
    """The span context a local root span links to: the session's trace.

    The trace id is :func:`sv_otel.ids.session_trace_id`; the span id, which only needs to be
    valid and stable, is the trace id's last eight bytes.
    """
    trace_id = session_trace_id(session_id)
    span_id = int.from_bytes(trace_id[8:], "big") or 1
    return SpanContext(
        trace_id=int.from_bytes(trace_id, "big"),
        span_id=span_id,
        is_remote=True,
        trace_flags=_SAMPLED,
    )


class _FailureLog:
    """Logs the first failure with its traceback at warning level, later ones at debug."""

    __slots__ = ("_seen",)

    def __init__(self) -> None:
        self._seen = False

    def report(self, what: str) -> None:
        if self._seen:
            _logger.debug("%s failed", what, exc_info=True)
        else:
            self._seen = True
            _logger.warning(
                "%s failed (later failures are logged at debug level)", what, exc_info=True
            )


@mypyc_attr(allow_interpreted_subclasses=True)
class SessionSpanProcessor(SpanProcessor):
    """Stamps the request's session on every span it starts (see the module docstring).

    Args:
        session_link: link each request's local root span to the session's trace; None reads
            ``SV_OTEL_LINKING_SESSION_LINK``.
        vendor_aliases: ``"highlight"`` and/or ``"posthog"``; None reads
            ``SV_OTEL_LINKING_VENDOR_ALIASES``.
        trust_client_user_id: stamp the browser's user id as ``user.id``; None reads
            ``SV_OTEL_LINKING_TRUST_CLIENT_USER_ID``.

    Raises:
        ConfigurationError: an unknown vendor alias.
    """

    def __init__(
        self,
        *,
        session_link: bool | None = None,
        vendor_aliases: Iterable[str] | None = None,
        trust_client_user_id: bool | None = None,
    ) -> None:
        self._options = LinkingOptions.resolve(
            session_link=session_link,
            vendor_aliases=vendor_aliases,
            trust_client_user_id=trust_client_user_id,
        )
        self._failures = _FailureLog()

    @property
    def options(self) -> LinkingOptions:
        """The options in force."""
        return self._options

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Stamp ``span`` with the session identity of ``parent_context``."""
        # This runs for every span on the thread that starts it, so it avoids calls where a
        # field will do: it reads the identity's stamp cache and root reference directly.
        try:
            identity = (get_current() if parent_context is None else parent_context).get(
                IDENTITY_KEY
            )
            if not isinstance(identity, SessionIdentity):
                return
            options = self._options
            if identity._root is None or options.session_link:
                parent = span.parent
                if parent is None or parent.is_remote:
                    identity.remember_root(span)
                    if options.session_link and identity.session_id is not None:
                        span.add_link(
                            session_link_context(identity.session_id),
                            {SESSION_ID: identity.session_id},
                        )
            cache = identity._cache
            stamp = (
                cache[1] if cache is not None and cache[0] is options else identity.stamp(options)
            )
            if stamp.attributes:
                stamp_span(span, stamp)
        except Exception:
            self._failures.report("SessionSpanProcessor.on_start")

    def on_end(self, span: object) -> None:
        """Nothing to do: everything is stamped at start."""

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered; always True."""
        return True


@mypyc_attr(allow_interpreted_subclasses=True)
class SessionLogRecordProcessor(LogRecordProcessor):
    """Stamps the session of a log record's context on the record (see the module docstring).

    Args:
        vendor_aliases: ``"highlight"`` and/or ``"posthog"``; None reads
            ``SV_OTEL_LINKING_VENDOR_ALIASES``.
        trust_client_user_id: stamp the browser's user id as ``user.id``; None reads
            ``SV_OTEL_LINKING_TRUST_CLIENT_USER_ID``.

    Raises:
        ConfigurationError: an unknown vendor alias.
    """

    def __init__(
        self,
        *,
        vendor_aliases: Iterable[str] | None = None,
        trust_client_user_id: bool | None = None,
    ) -> None:
        self._options = LinkingOptions.resolve(
            vendor_aliases=vendor_aliases, trust_client_user_id=trust_client_user_id
        )
        self._failures = _FailureLog()

    @property
    def options(self) -> LinkingOptions:
        """The options in force."""
        return self._options

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Add the session attributes the record does not have yet."""
        try:
            record = log_record.log_record
            identity = current_session(record.context)
            if identity is None:
                return
            stamp = identity.attributes(self._options)
            if not stamp:
                return
            attributes = record.attributes
            if isinstance(attributes, MutableMapping):
                for key, value in stamp.items():
                    if key not in attributes:
                        attributes[key] = value
            else:
                merged: dict[str, AnyValue] = dict(stamp)
                merged.update(attributes or {})
                record.attributes = merged
        except Exception:
            self._failures.report("SessionLogRecordProcessor.on_emit")

    def enabled(
        self,
        *,
        context: Context | None = None,
        instrumentation_scope: InstrumentationScope | None = None,
        severity_number: SeverityNumber | None = None,
        event_name: str | None = None,
    ) -> bool:
        """False: stamping alone never makes a logger worth calling (exporters decide)."""
        return False

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered; always True."""
        return True
