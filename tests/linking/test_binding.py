"""Binding the authenticated user: the request's root, current and later spans get ``user.id``."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import sv_otel
from sv_otel import ConfigurationError
from sv_otel.linking import SessionIdentity
from sv_otel.linking.identity import with_identity


def finished(exporter: InMemorySpanExporter) -> dict[str, dict[str, Any]]:
    return {span.name: dict(span.attributes or {}) for span in exporter.get_finished_spans()}


def test_bind_user_reaches_the_root_the_current_and_later_spans(
    tracing: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = tracing
    tracer = provider.get_tracer("t")
    token = otel_context.attach(with_identity(SessionIdentity("s1", client_user_id="claimed")))
    try:
        with tracer.start_as_current_span("server"):
            tracer.start_span("before").end()
            with tracer.start_as_current_span("auth"):
                assert sv_otel.bind_user("u-1") is True
            tracer.start_span("after").end()
    finally:
        otel_context.detach(token)
    spans = finished(exporter)
    claimed = {"session.id": "s1", "sessionvision.client.user.id": "claimed"}
    assert spans["before"] == claimed
    assert spans["auth"] == {**claimed, "user.id": "u-1"}
    assert spans["server"] == {**claimed, "user.id": "u-1"}
    assert spans["after"] == {**claimed, "user.id": "u-1"}


def test_bind_user_outside_a_request_sets_only_the_current_span(
    tracing: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    provider, exporter = tracing
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("job"):
        assert sv_otel.bind_user("u-2") is False
        tracer.start_span("later").end()
    assert finished(exporter) == {"job": {"user.id": "u-2"}, "later": {}}
    assert sv_otel.bind_user("u-3") is False  # no span at all: nothing to do, no error


def test_bind_user_into_an_explicit_context() -> None:
    identity = SessionIdentity("s1")
    assert sv_otel.bind_user("u-4", context=with_identity(identity, Context())) is True
    assert identity.user_id == "u-4"


@pytest.mark.parametrize("user_id", ["", None, 42])
def test_bind_user_rejects_a_missing_user_id(user_id: Any) -> None:
    with pytest.raises(ConfigurationError) as error:
        sv_otel.bind_user(user_id)
    assert error.value.message == f"bind_user: expected a non-empty user id, got {user_id!r}"
