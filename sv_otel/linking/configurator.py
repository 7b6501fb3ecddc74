"""Zero-code set-up under ``opentelemetry-instrument``: the ``sessionvision`` configurator.

OpenTelemetry Python has no entry-point group for span or log processors, and a processor added
after the exporting ones is too late for logs. The one plug-in point that adds processors
*before* the exporters is a configurator (entry-point group ``opentelemetry_configurator``),
so sv_otel ships one, named ``sessionvision``. It sets up the SDK exactly as OpenTelemetry's own
configurator does (exporters, sampler, resource from the usual ``OTEL_*`` variables) and adds a
:class:`SessionSpanProcessor` and a :class:`SessionLogRecordProcessor` in front::

    OTEL_PYTHON_CONFIGURATOR=sessionvision \\
    OTEL_PROPAGATORS=tracecontext,baggage,sessionvision \\
    OTEL_TRACES_EXPORTER=otlp OTEL_LOGS_EXPORTER=otlp \\
    opentelemetry-instrument uvicorn app:app

``OTEL_PYTHON_CONFIGURATOR`` is needed only when another configurator is installed too (the
``opentelemetry-distro`` package has one); ``opentelemetry-instrument`` runs just one.
When ``OTEL_PROPAGATORS`` is not set, the configurator appends the session propagator to the
default ``tracecontext,baggage``; when it is set without ``sessionvision``, that choice is kept
and a warning says that sessions will not be read. The processors' options come from the
``SV_OTEL_LINKING_*`` variables (:mod:`sv_otel.linking.options`); signed sessions from
``SV_OTEL_SESSION_SECRET`` and ``SV_OTEL_LINKING_REQUIRE_SIGNED`` (:mod:`sv_otel.linking.signed`),
which the propagator reads however it was loaded.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Final

import opentelemetry.propagate as propagate
from opentelemetry.environment_variables import OTEL_PROPAGATORS
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk._configuration import _initialize_components, _OTelSDKConfigurator

from sv_otel.linking.install import has_session_propagator
from sv_otel.linking.processors import SessionLogRecordProcessor, SessionSpanProcessor
from sv_otel.linking.propagator import SessionPropagator

__all__ = ["PROPAGATOR_NAME", "SessionConfigurator"]

_logger = logging.getLogger(__name__)

PROPAGATOR_NAME: Final = "sessionvision"
"""The propagator's name in ``OTEL_PROPAGATORS`` (its ``opentelemetry_propagator`` entry point)."""

_OTEL_CONFIG_FILE: Final = "OTEL_CONFIG_FILE"


class SessionConfigurator(_OTelSDKConfigurator):
    """OpenTelemetry's SDK configurator plus the session processors and propagator."""

    def _configure(self, **kwargs: Any) -> None:
        if os.environ.get(_OTEL_CONFIG_FILE):
            _logger.warning(
                "%s is set, but the sessionvision configurator sets the SDK up from environment "
                "variables; the file is ignored",
                _OTEL_CONFIG_FILE,
            )
        span_processors = [SessionSpanProcessor(), *(kwargs.pop("span_processors", None) or ())]
        log_record_processors = [
            SessionLogRecordProcessor(),
            *(kwargs.pop("log_record_processors", None) or ()),
        ]
        _initialize_components(
            span_processors=span_processors,
            log_record_processors=log_record_processors,
            **kwargs,
        )
        ensure_session_propagator(os.environ.get(OTEL_PROPAGATORS))


def ensure_session_propagator(configured: str | None) -> bool:
    """Append a :class:`SessionPropagator` to the global propagator if the user left it open.

    Args:
        configured: the value of ``OTEL_PROPAGATORS``, or None when it is not set.

    Returns:
        Whether the global propagator reads sessions afterwards.
    """
    current = propagate.get_global_textmap()
    if has_session_propagator(current):
        return True
    if configured is None:
        propagate.set_global_textmap(CompositePropagator([current, SessionPropagator()]))
        return True
    names = {name.strip().lower() for name in configured.split(",")}
    if "none" not in names:
        _logger.warning(
            "%s=%r does not include %s: incoming browser sessions are not read",
            OTEL_PROPAGATORS,
            configured,
            PROPAGATOR_NAME,
        )
    return False
