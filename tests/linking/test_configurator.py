"""The ``sessionvision`` configurator, run by ``opentelemetry-instrument`` in a subprocess."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.util._importlib_metadata import entry_points

from sv_otel.linking.configurator import SessionConfigurator, ensure_session_propagator
from sv_otel.linking.install import has_session_propagator

INSTRUMENT = str(Path(sys.executable).with_name("opentelemetry-instrument"))

PROBE = """
from opentelemetry import propagate, trace
from sv_otel.linking.install import has_session_propagator
context = propagate.extract({"x-sessionvision-session-id": "s-1", "x-sessionvision-user-id": "u"})
span = trace.get_tracer("probe").start_span("probe", context=context)
print(has_session_propagator(propagate.get_global_textmap()), dict(span.attributes))
"""


def run_instrumented(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("OTEL_")}
    clean.update(
        OTEL_PYTHON_CONFIGURATOR="sessionvision",
        OTEL_TRACES_EXPORTER="none",
        OTEL_METRICS_EXPORTER="none",
        OTEL_LOGS_EXPORTER="none",
        **env,
    )
    return subprocess.run(
        [INSTRUMENT, sys.executable, "-c", PROBE],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def global_textmap() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(W3CBaggagePropagator())
    yield
    propagate.set_global_textmap(previous)


def test_the_entry_point_names_the_configurator() -> None:
    (entry_point,) = entry_points(group="opentelemetry_configurator", name="sessionvision")
    assert entry_point.load() is SessionConfigurator


def test_zero_code_with_otel_propagators_unset_adds_everything() -> None:
    result = run_instrumented()
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("True {'session.id': 's-1', 'sessionvision.client.user.id': 'u'}\n")


def test_zero_code_with_the_propagator_named_and_options_from_the_environment() -> None:
    result = run_instrumented(
        OTEL_PROPAGATORS="tracecontext,baggage,sessionvision",
        SV_OTEL_LINKING_VENDOR_ALIASES="posthog",
        SV_OTEL_LINKING_TRUST_CLIENT_USER_ID="true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ("True {'session.id': 's-1', 'sessionId': 's-1', 'user.id': 'u'}\n")


def test_zero_code_keeps_an_explicit_propagator_list_and_warns() -> None:
    result = run_instrumented(OTEL_PROPAGATORS="tracecontext")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False {}\n"
    assert (
        "OTEL_PROPAGATORS='tracecontext' does not include sessionvision: incoming browser "
        "sessions are not read"
    ) in result.stderr


@pytest.mark.usefixtures("global_textmap")
def test_ensure_session_propagator_appends_only_when_left_open(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="sv_otel.linking.configurator"):
        assert ensure_session_propagator("none") is False
        assert ensure_session_propagator("tracecontext, baggage") is False
        assert not has_session_propagator(propagate.get_global_textmap())
        assert ensure_session_propagator(None) is True
        assert has_session_propagator(propagate.get_global_textmap())
        textmap = propagate.get_global_textmap()
        assert ensure_session_propagator(None) is True
        assert propagate.get_global_textmap() is textmap
    assert [record.getMessage() for record in caplog.records] == [
        "OTEL_PROPAGATORS='tracecontext, baggage' does not include sessionvision: incoming "
        "browser sessions are not read"
    ]
