"""``sv_otel.instrument(...)``: the propagator and both processors in one call.

Call it once at start-up, **before** adding the exporting processors, so log records carry the
session by the time an exporter sees them::

    tracer_provider = TracerProvider()
    logger_provider = LoggerProvider()
    sv_otel.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))

It adds a :class:`SessionSpanProcessor` and a :class:`SessionLogRecordProcessor` (a provider
left as None means the global one, skipped with a warning if no SDK provider is set), and
appends a :class:`SessionPropagator` to the global propagator unless one is already there.
Calling it again for the same providers changes nothing.

(``opentelemetry.propagate`` is used through its module, never imported from: the propagator
entry point is loaded while that module is still being imported.)
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Iterable
from dataclasses import dataclass

import opentelemetry.propagate as propagate
from opentelemetry import trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider

from sv_otel.errors import ConfigurationError
from sv_otel.linking.processors import SessionLogRecordProcessor, SessionSpanProcessor
from sv_otel.linking.propagator import SessionPropagator

__all__ = ["LinkingSetup", "has_session_propagator", "instrument"]

_logger = logging.getLogger(__name__)

_span_processors: weakref.WeakKeyDictionary[TracerProvider, SessionSpanProcessor] = (
    weakref.WeakKeyDictionary()
)
_log_processors: weakref.WeakKeyDictionary[LoggerProvider, SessionLogRecordProcessor] = (
    weakref.WeakKeyDictionary()
)


@dataclass(frozen=True, slots=True)
class LinkingSetup:
    """What :func:`instrument` installed (None where it installed nothing).

    Attributes:
        propagator: the propagator appended to the global one, or None if the global
            propagator already had a ``SessionPropagator``.
        span_processor: the span processor of the tracer provider, or None without one.
        log_record_processor: the log record processor of the logger provider, or None.
    """

    propagator: SessionPropagator | None
    span_processor: SessionSpanProcessor | None
    log_record_processor: SessionLogRecordProcessor | None


def has_session_propagator(propagator: TextMapPropagator) -> bool:
    """Whether ``propagator`` is, or is a composite containing, a :class:`SessionPropagator`."""
    if isinstance(propagator, SessionPropagator):
        return True
    # CompositePropagator keeps its members in a private tuple; read it defensively.
    members = getattr(propagator, "_propagators", ())
    return isinstance(members, (list, tuple)) and any(
        isinstance(member, TextMapPropagator) and has_session_propagator(member)
        for member in members
    )


def instrument(
    *,
    tracer_provider: TracerProvider | None = None,
    logger_provider: LoggerProvider | None = None,
    propagator: SessionPropagator | None = None,
    session_secret: bytes | str | None = None,
    require_signed: bool | None = None,
    session_link: bool | None = None,
    vendor_aliases: Iterable[str] | None = None,
    trust_client_user_id: bool | None = None,
) -> LinkingSetup:
    """Install the session propagator and processors (see the module docstring).

    Args:
        tracer_provider: the SDK tracer provider; None for the global one.
        logger_provider: the SDK logger provider; None for the global one.
        propagator: the propagator to append to the global one (e.g. with a
            ``token_verifier`` of your own); None builds one from ``session_secret`` and
            ``require_signed``.
        session_secret: the secret session tokens are signed with (``str`` means its UTF-8
            bytes, at least 16): the propagator verifies ``X-Sessionvision-Session-Token``.
            None reads ``SV_OTEL_SESSION_SECRET`` (see :mod:`sv_otel.linking.signed`).
        require_signed: accept only sessions from verified tokens; None reads
            ``SV_OTEL_LINKING_REQUIRE_SIGNED``.
        session_link: see :class:`SessionSpanProcessor`.
        vendor_aliases: see :class:`SessionSpanProcessor`.
        trust_client_user_id: see :class:`SessionSpanProcessor`.

    Returns:
        What was installed.

    Raises:
        ConfigurationError: an unknown vendor alias; ``propagator`` together with
            ``session_secret`` or ``require_signed``; a bad signed-session setting (see
            :class:`SessionPropagator`).
    """
    if propagator is not None and (session_secret is not None or require_signed is not None):
        raise ConfigurationError(
            "sv_otel.instrument: pass either a propagator or session_secret / require_signed "
            "for the one it builds, not both"
        )
    if propagator is None:
        # Built before anything is installed, so a bad setting fails before any change.
        propagator = SessionPropagator(secret=session_secret, require_signed=require_signed)
        built = True
    else:
        built = False
    if vendor_aliases is not None and not isinstance(vendor_aliases, str):
        vendor_aliases = tuple(vendor_aliases)
    span_processor = _install_span_processor(
        tracer_provider,
        SessionSpanProcessor(
            session_link=session_link,
            vendor_aliases=vendor_aliases,
            trust_client_user_id=trust_client_user_id,
        ),
    )
    log_processor = _install_log_processor(
        logger_provider,
        SessionLogRecordProcessor(
            vendor_aliases=vendor_aliases, trust_client_user_id=trust_client_user_id
        ),
    )
    installed: SessionPropagator | None = None
    current = propagate.get_global_textmap()
    if not has_session_propagator(current):
        installed = propagator
        propagate.set_global_textmap(CompositePropagator([current, installed]))
    elif not built or session_secret is not None or require_signed is not None:
        _logger.warning(
            "sv_otel.instrument: the global propagator already has a SessionPropagator; %s",
            "the session_secret / require_signed passed in are not applied"
            if built
            else "the propagator passed in is not installed",
        )
    return LinkingSetup(installed, span_processor, log_processor)


def _install_span_processor(
    provider: TracerProvider | None, processor: SessionSpanProcessor
) -> SessionSpanProcessor | None:
    if provider is None:
        found = trace.get_tracer_provider()
        if not isinstance(found, TracerProvider):
            _logger.warning(
                "sv_otel.instrument: no SDK TracerProvider is set (the global one is %s); "
                "spans are not stamped",
                type(found).__name__,
            )
            return None
        provider = found
    existing = _span_processors.get(provider)
    if existing is not None:
        return existing
    provider.add_span_processor(processor)
    _span_processors[provider] = processor
    return processor


def _install_log_processor(
    provider: LoggerProvider | None, processor: SessionLogRecordProcessor
) -> SessionLogRecordProcessor | None:
    if provider is None:
        found = get_logger_provider()
        if not isinstance(found, LoggerProvider):
            _logger.warning(
                "sv_otel.instrument: no SDK LoggerProvider is set (the global one is %s); "
                "log records are not stamped",
                type(found).__name__,
            )
            return None
        provider = found
    existing = _log_processors.get(provider)
    if existing is not None:
        return existing
    # The provider keeps its processors in a private tuple; read it only to warn.
    multi = getattr(provider, "_multi_log_record_processor", None)
    earlier = getattr(multi, "_log_record_processors", ())
    if isinstance(earlier, tuple) and earlier:
        _logger.warning(
            "sv_otel.instrument: the LoggerProvider already has %d log record processor(s); "
            "records they export at once will not carry the session. Call instrument() "
            "before adding exporting processors.",
            len(earlier),
        )
    provider.add_log_record_processor(processor)
    _log_processors[provider] = processor
    return processor
