"""SessionPropagator with dict carriers, the real W3C propagators and a real SDK."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest
from opentelemetry import baggage
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Getter, Setter
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util._importlib_metadata import entry_points

from sv_otel import ConfigurationError, SessionPropagator
from sv_otel.linking import current_session
from sv_otel.linking.environment_variables import SV_OTEL_SESSION_SECRET
from tests.linking._apps import SESSION, linking_attributes, sign, verify

COMPOSITE = CompositePropagator(
    [TraceContextTextMapPropagator(), W3CBaggagePropagator(), SessionPropagator()]
)


def stamped(
    tracing: tuple[TracerProvider, InMemorySpanExporter], headers: dict[str, str]
) -> dict[str, Any]:
    """What a server span started in the extracted context carries."""
    provider, exporter = tracing
    context = COMPOSITE.extract(headers, Context())
    provider.get_tracer("t").start_span("server", context=context).end()
    (span,) = exporter.get_finished_spans()
    return dict(span.attributes or {})


def test_extract_puts_the_identity_into_the_context() -> None:
    context = SessionPropagator().extract(
        {"x-sessionvision-session-id": SESSION, "x-sessionvision-anonymous-id": "anon"}
    )
    identity = current_session(context)
    assert identity is not None
    assert (identity.session_id, identity.anonymous_id, identity.client_user_id) == (
        SESSION,
        "anon",
        None,
    )


def test_a_request_without_carriers_still_gets_an_identity_to_bind_to() -> None:
    identity = current_session(SessionPropagator().extract({}, Context()))
    assert identity is not None
    assert identity.session_id is None


def test_a_nested_extract_without_a_session_keeps_the_outer_identity() -> None:
    outer = SessionPropagator().extract({"x-sessionvision-session-id": "outer"}, Context())
    inner = SessionPropagator().extract({}, outer)
    assert current_session(inner) is current_session(outer)
    replaced = SessionPropagator().extract({"x-sessionvision-session-id": "new"}, outer)
    identity = current_session(replaced)
    assert identity is not None
    assert identity.session_id == "new"


def test_the_context_baggage_entry_agrees_with_the_chosen_session() -> None:
    context = COMPOSITE.extract(
        {"x-sessionvision-session-id": SESSION, "baggage": "session.id=stale,foo=bar"}, Context()
    )
    assert baggage.get_all(context) == {"session.id": SESSION, "foo": "bar"}


def test_a_rejected_baggage_session_is_not_forwarded() -> None:
    context = COMPOSITE.extract({"baggage": "session.id=bad%2Cvalue,foo=bar"}, Context())
    assert baggage.get_all(context) == {"foo": "bar"}
    carrier: dict[str, str] = {}
    COMPOSITE.inject(carrier, context)
    assert carrier["baggage"] == "foo=bar"


def test_an_unsigned_baggage_session_is_not_forwarded_when_signed_ids_are_required() -> None:
    propagator = CompositePropagator(
        [W3CBaggagePropagator(), SessionPropagator(token_verifier=verify, require_signed=True)]
    )
    context = propagator.extract({"baggage": "session.id=forged"}, Context())
    assert baggage.get_all(context) == {}
    signed = propagator.extract(
        {"baggage": "session.id=forged", "x-sessionvision-session-token": sign(SESSION)},
        Context(),
    )
    assert baggage.get_all(signed) == {"session.id": SESSION}


def test_inject_merges_into_the_carrier_baggage_without_duplicates() -> None:
    context = COMPOSITE.extract(
        {"x-sessionvision-session-id": SESSION, "baggage": "vendor=keep"}, Context()
    )
    carrier = {"baggage": "sentry-trace_id=abc;prop=1,session.id=other"}
    SessionPropagator().inject(carrier, context)
    assert carrier["baggage"] == f"sentry-trace_id=abc;prop=1,session.id={SESSION}"
    composite_carrier: dict[str, str] = {}
    COMPOSITE.inject(composite_carrier, context)
    assert composite_carrier["baggage"] == f"vendor=keep,session.id={SESSION}"


def test_inject_writes_the_context_baggage_when_the_carrier_cannot_be_read() -> None:
    written: list[tuple[str, str]] = []

    class ListSetter(Setter[list[tuple[str, str]]]):
        def set(self, carrier: list[tuple[str, str]], key: str, value: str) -> None:
            carrier.append((key, value))

    context = SessionPropagator().extract({"x-sessionvision-session-id": SESSION}, Context())
    context = baggage.set_baggage("tenant", "acme co", context)
    SessionPropagator().inject(written, context, setter=ListSetter())
    assert written == [("baggage", f"tenant=acme%20co,session.id={SESSION}")]


def test_inject_without_a_session_writes_nothing() -> None:
    carrier: dict[str, str] = {}
    SessionPropagator().inject(carrier, Context())
    SessionPropagator().inject(carrier, SessionPropagator().extract({}, Context()))
    assert carrier == {}


def test_fields() -> None:
    assert SessionPropagator().fields == {"baggage"}


def test_extract_never_raises() -> None:
    class BrokenGetter(Getter[dict[str, str]]):
        def get(self, carrier: dict[str, str], key: str) -> list[str] | None:
            raise RuntimeError("getter bug")

        def keys(self, carrier: dict[str, str]) -> list[str]:
            return []

    base = Context()
    assert SessionPropagator().extract({}, base, getter=BrokenGetter()) is base


def test_inject_never_raises() -> None:
    class BrokenSetter(Setter[dict[str, str]]):
        def set(self, carrier: dict[str, str], key: str, value: str) -> None:
            raise RuntimeError("setter bug")

    context = SessionPropagator().extract({"x-sessionvision-session-id": SESSION}, Context())
    carrier: dict[str, str] = {}
    SessionPropagator().inject(carrier, context, setter=BrokenSetter())
    assert carrier == {}


def test_bad_configuration_fails_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SV_OTEL_SESSION_SECRET, raising=False)
    not_callable: Any = "secret"
    with pytest.raises(ConfigurationError) as error:
        SessionPropagator(require_signed=True)
    assert error.value.message == (
        "SessionPropagator: require_signed=True needs a token_verifier or a session secret "
        "(an argument or SV_OTEL_SESSION_SECRET)"
    )
    with pytest.raises(ConfigurationError) as error:
        SessionPropagator(token_verifier=not_callable)
    assert error.value.message == "SessionPropagator: token_verifier must be callable, got 'secret'"


HOSTILE = [
    pytest.param({"x-sessionvision-session-id": "s" * 10_000}, {}, id="10KB-value"),
    pytest.param(
        {"baggage": "session.id=" + "s" * 10_000, "x-posthog-session-id": "ph"},
        {"session.id": "ph"},
        id="10KB-baggage",
    ),
    pytest.param(
        {"x-sessionvision-session-id": "\x00sess\x1bion\r\n\x9b"},
        {"session.id": "session"},
        id="control-characters-are-stripped",
    ),
    pytest.param(
        {"x-sessionvision-session-id": "\x1b[31mred"}, {}, id="escape-sequence-is-rejected"
    ),
    pytest.param(
        {"x-sessionvision-session-id": "sess\u0131on", "x-sessionvision-user-id": "\u202euser"},
        {},
        id="unicode",
    ),
    pytest.param(
        {"baggage": ",".join(f"k{i}=v" for i in range(200)) + f",session.id={SESSION}"},
        {},
        id="200-baggage-entries",
    ),
    pytest.param(
        {"baggage": ";;;,=,==,session.id,session.id=;p=1,user.id=%%%"},
        {},
        id="malformed-baggage",
    ),
    pytest.param(
        {
            "x-sessionvision-session-id": "one",
            "baggage": "session.id=two,sentry-replay_id=three",
            "x-posthog-session-id": "four",
            "x-highlight-request": "five/1",
            "x-openreplay-sessiontoken": "six",
        },
        {"session.id": "one"},
        id="conflicting-carriers",
    ),
    pytest.param(
        {
            "baggage": "session.id=s1,http.route=/admin,user.id=u1,enduser.id=root,"
            "sessionvision.client.user.id=spoofed,user.id.verified=true"
        },
        {"session.id": "s1", "sessionvision.client.user.id": "u1"},
        id="baggage-cannot-set-arbitrary-attributes",
    ),
]


@pytest.mark.parametrize(("headers", "expected"), HOSTILE)
def test_hostile_carriers(
    headers: dict[str, str],
    expected: dict[str, str],
    tracing: tuple[TracerProvider, InMemorySpanExporter],
) -> None:
    attributes = stamped(tracing, headers)
    assert linking_attributes(attributes) == expected
    assert set(attributes) == set(expected)


def test_the_entry_point_names_the_propagator() -> None:
    (entry_point,) = entry_points(group="opentelemetry_propagator", name="sessionvision")
    assert entry_point.load() is SessionPropagator


def test_otel_propagators_loads_it_by_name() -> None:
    code = (
        "from opentelemetry import propagate\n"
        "from sv_otel.linking.install import has_session_propagator\n"
        "print(has_session_propagator(propagate.get_global_textmap()))\n"
    )
    env = {**os.environ, "OTEL_PROPAGATORS": "tracecontext,baggage,sessionvision"}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "True\n", "")
