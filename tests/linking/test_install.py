"""``sv_otel.instrument``: code-based set-up on real providers and the real global propagator."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from opentelemetry import propagate, trace
from opentelemetry._logs import _internal as logs_internal
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import sv_otel
from sv_otel import ConfigurationError, SessionPropagator
from sv_otel.linking.install import has_session_propagator
from tests.linking._apps import SESSION, sign, verify


@pytest.fixture(autouse=True)
def restore_global_propagator() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(W3CBaggagePropagator())
    yield
    propagate.set_global_textmap(previous)


@pytest.fixture
def no_global_providers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process has no SDK providers set (OpenTelemetry's own tests reset globals so)."""
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", None)


def test_instrument_stamps_spans_and_logs_and_reads_sessions() -> None:
    tracer_provider, logger_provider = TracerProvider(), LoggerProvider()
    setup = sv_otel.instrument(
        tracer_provider=tracer_provider,
        logger_provider=logger_provider,
        vendor_aliases=["highlight"],
    )
    spans, logs = InMemorySpanExporter(), InMemoryLogRecordExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(logs))

    context = propagate.extract({"x-sessionvision-session-id": SESSION}, Context())
    tracer_provider.get_tracer("t").start_span("request", context=context).end()
    logger_provider.get_logger("t").emit(body="log", context=context)

    expected = {"session.id": SESSION, "highlight.session_id": SESSION}
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {}) == expected
    (log,) = logs.get_finished_logs()
    assert dict(log.log_record.attributes or {}) == expected
    assert setup.propagator is not None
    assert setup.span_processor is not None
    assert setup.span_processor.options.vendor_aliases == frozenset({"highlight"})
    assert setup.log_record_processor is not None
    carrier: dict[str, str] = {}
    propagate.inject(carrier, context)
    assert carrier == {"baggage": f"session.id={SESSION}"}


def test_instrument_twice_changes_nothing() -> None:
    tracer_provider, logger_provider = TracerProvider(), LoggerProvider()
    first = sv_otel.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    textmap = propagate.get_global_textmap()
    second = sv_otel.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    assert second.span_processor is first.span_processor
    assert second.log_record_processor is first.log_record_processor
    assert second.propagator is None
    assert propagate.get_global_textmap() is textmap


def test_a_configured_propagator_is_kept(caplog: pytest.LogCaptureFixture) -> None:
    configured = CompositePropagator([W3CBaggagePropagator(), SessionPropagator()])
    propagate.set_global_textmap(configured)
    with caplog.at_level(logging.WARNING, logger="sv_otel.linking.install"):
        setup = sv_otel.instrument(
            tracer_provider=TracerProvider(),
            logger_provider=LoggerProvider(),
            propagator=SessionPropagator(token_verifier=verify),
        )
    assert setup.propagator is None
    assert propagate.get_global_textmap() is configured
    assert [record.getMessage() for record in caplog.records] == [
        "sv_otel.instrument: the global propagator already has a SessionPropagator; "
        "the propagator passed in is not installed"
    ]


def test_a_propagator_with_a_verifier_is_installed() -> None:
    propagator = SessionPropagator(token_verifier=verify, require_signed=True)
    setup = sv_otel.instrument(
        tracer_provider=TracerProvider(), logger_provider=LoggerProvider(), propagator=propagator
    )
    assert setup.propagator is propagator
    assert has_session_propagator(propagate.get_global_textmap())
    context = propagate.extract(
        {"x-sessionvision-session-token": sign(SESSION), "x-sessionvision-session-id": "forged"}
    )
    session = sv_otel.current_session(context)
    assert session is not None
    assert (session.session_id, session.verified) == (SESSION, True)


@pytest.mark.usefixtures("no_global_providers")
def test_without_sdk_providers_nothing_is_stamped_and_a_warning_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sv_otel.linking.install"):
        setup = sv_otel.instrument()
    assert (setup.span_processor, setup.log_record_processor) == (None, None)
    assert setup.propagator is not None
    assert [record.getMessage() for record in caplog.records] == [
        "sv_otel.instrument: no SDK TracerProvider is set (the global one is "
        "ProxyTracerProvider); spans are not stamped",
        "sv_otel.instrument: no SDK LoggerProvider is set (the global one is "
        "ProxyLoggerProvider); log records are not stamped",
    ]


def test_the_global_sdk_providers_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    tracer_provider, logger_provider = TracerProvider(), LoggerProvider()
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", tracer_provider)
    monkeypatch.setattr(logs_internal, "_LOGGER_PROVIDER", logger_provider)
    setup = sv_otel.instrument()
    spans = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    context = propagate.extract({"x-sessionvision-session-id": SESSION}, Context())
    tracer_provider.get_tracer("t").start_span("s", context=context).end()
    assert setup.span_processor is not None
    assert setup.log_record_processor is not None
    (span,) = spans.get_finished_spans()
    assert dict(span.attributes or {}) == {"session.id": SESSION}


def test_a_logger_provider_with_exporters_already_gets_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger_provider = LoggerProvider()
    logger_provider.add_log_record_processor(SimpleLogRecordProcessor(InMemoryLogRecordExporter()))
    with caplog.at_level(logging.WARNING, logger="sv_otel.linking.install"):
        sv_otel.instrument(tracer_provider=TracerProvider(), logger_provider=logger_provider)
    assert [record.getMessage() for record in caplog.records] == [
        "sv_otel.instrument: the LoggerProvider already has 1 log record processor(s); "
        "records they export at once will not carry the session. Call instrument() before "
        "adding exporting processors."
    ]


def test_an_unknown_alias_fails_before_anything_is_installed() -> None:
    tracer_provider = TracerProvider()
    textmap = propagate.get_global_textmap()
    with pytest.raises(ConfigurationError) as error:
        sv_otel.instrument(tracer_provider=tracer_provider, vendor_aliases=["sentry"])
    assert (
        error.value.message == "vendor_aliases: unknown alias 'sentry' (known: highlight, posthog)"
    )
    assert propagate.get_global_textmap() is textmap
    assert sv_otel.instrument(tracer_provider=tracer_provider).span_processor is not None


def test_has_session_propagator() -> None:
    assert has_session_propagator(SessionPropagator())
    assert has_session_propagator(
        CompositePropagator([W3CBaggagePropagator(), CompositePropagator([SessionPropagator()])])
    )
    assert not has_session_propagator(CompositePropagator([W3CBaggagePropagator()]))
    assert not has_session_propagator(W3CBaggagePropagator())
