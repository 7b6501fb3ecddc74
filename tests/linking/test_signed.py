"""Signed sessions: configuration from arguments and environment, and their effect over real HTTP
(a FastAPI app with OpenTelemetry's instrumentation, tokens from ``sv_otel.sessions.token``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import sv_otel
from sv_otel import ConfigurationError, SessionPropagator
from sv_otel.linking.environment_variables import (
    SV_OTEL_LINKING_REQUIRE_SIGNED,
    SV_OTEL_SESSION_SECRET,
)
from sv_otel.linking.signed import SigningOptions, reject_every_token
from sv_otel.sessions.token import sign_session_token
from tests.linking._apps import (
    FASTAPI_LOGS,
    FASTAPI_SPANS,
    SECRET,
    SESSION,
    Telemetry,
    fastapi_app,
    global_propagator,
    linking_attributes,
    sign,
)
from tests.servers import serve_asgi, wait_until

OTHER_SECRET = b"another-secret-of-32-bytes-long!"


def expired() -> str:
    """A token that expired an hour ago."""
    return sign_session_token(SESSION, secret=SECRET, ttl_seconds=60, now=time.time() - 3600)


def forged() -> str:
    token = sign(SESSION)
    return token[:-1] + ("A" if token[-1] != "A" else "B")


BAD_TOKENS = {
    "expired": expired,
    "forged": forged,
    "wrong-secret": lambda: sign(SESSION, secret=OTHER_SECRET),
    "malformed": lambda: "v1.not-a-token",
}

# --- configuration -----------------------------------------------------------------------------


def test_a_secret_in_the_environment_verifies_tokens() -> None:
    options = SigningOptions.resolve(environ={SV_OTEL_SESSION_SECRET: SECRET.decode()})
    assert options.require_signed is False
    assert options.token_verifier is not None
    assert options.token_verifier(sign(SESSION)) == SESSION
    assert options.token_verifier(sign(SESSION, secret=OTHER_SECRET)) is None
    assert SigningOptions.resolve(environ={}) == SigningOptions(None, False)


def test_require_signed_from_the_environment() -> None:
    environ = {SV_OTEL_SESSION_SECRET: SECRET.decode(), SV_OTEL_LINKING_REQUIRE_SIGNED: " TRUE "}
    assert SigningOptions.resolve(environ=environ).require_signed is True
    environ[SV_OTEL_LINKING_REQUIRE_SIGNED] = "false"
    assert SigningOptions.resolve(environ=environ).require_signed is False


def test_arguments_win_over_the_environment() -> None:
    environ = {SV_OTEL_SESSION_SECRET: SECRET.decode(), SV_OTEL_LINKING_REQUIRE_SIGNED: "true"}
    options = SigningOptions.resolve(secret=OTHER_SECRET, require_signed=False, environ=environ)
    assert options.require_signed is False
    assert options.token_verifier is not None
    assert options.token_verifier(sign(SESSION, secret=OTHER_SECRET)) == SESSION
    assert options.token_verifier(sign(SESSION)) is None
    text = SigningOptions.resolve(secret=OTHER_SECRET.decode(), environ={})
    assert text.token_verifier is not None
    assert text.token_verifier(sign(SESSION, secret=OTHER_SECRET)) == SESSION


def test_a_malformed_require_signed_fails_closed(caplog: pytest.LogCaptureFixture) -> None:
    environ = {SV_OTEL_SESSION_SECRET: SECRET.decode(), SV_OTEL_LINKING_REQUIRE_SIGNED: "yes"}
    with caplog.at_level(logging.WARNING, logger="sv_otel.linking.signed"):
        assert SigningOptions.resolve(environ=environ).require_signed is True
    assert [record.getMessage() for record in caplog.records] == [
        "Invalid value for SV_OTEL_LINKING_REQUIRE_SIGNED: 'yes' (expected true or false); "
        "signed sessions are required"
    ]


def test_required_without_a_usable_secret_accepts_no_session(
    caplog: pytest.LogCaptureFixture,
) -> None:
    short = "too-short"
    with caplog.at_level(logging.WARNING, logger="sv_otel.linking.signed"):
        missing = SigningOptions.resolve(environ={SV_OTEL_LINKING_REQUIRE_SIGNED: "true"})
        too_short = SigningOptions.resolve(
            environ={SV_OTEL_LINKING_REQUIRE_SIGNED: "true", SV_OTEL_SESSION_SECRET: short}
        )
    assert missing == too_short == SigningOptions(reject_every_token, True)
    assert reject_every_token(sign(SESSION)) is None
    messages = [(record.levelname, record.getMessage()) for record in caplog.records]
    no_secret = (
        "ERROR",
        "SV_OTEL_LINKING_REQUIRE_SIGNED is true but no usable SV_OTEL_SESSION_SECRET is set: "
        "no browser session is accepted",
    )
    assert messages == [
        no_secret,
        (
            "ERROR",
            "Invalid value for SV_OTEL_SESSION_SECRET: session token secret: expected at least "
            "16 bytes; it is not used",
        ),
        no_secret,
    ]
    assert all(short not in message for _, message in messages)  # a secret is never logged


def test_a_short_secret_in_the_environment_is_not_used_when_not_required(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sv_otel.linking.signed"):
        options = SigningOptions.resolve(environ={SV_OTEL_SESSION_SECRET: "short"})
    assert options == SigningOptions(None, False)
    assert len(caplog.records) == 1


BAD_ARGUMENTS = [
    pytest.param(
        {"require_signed": True},
        "require_signed=True needs a token_verifier or a session secret "
        "(an argument or SV_OTEL_SESSION_SECRET)",
        id="required-without-verifier",
    ),
    pytest.param(
        {"token_verifier": lambda token: None, "secret": SECRET},
        "pass a token_verifier or a session secret, not both",
        id="both",
    ),
    pytest.param(
        {"secret": b"short"},
        "session token secret: expected at least 16 bytes",
        id="short-secret",
    ),
    pytest.param(
        {"secret": 12345}, "the session secret must be bytes or text, got int", id="int-secret"
    ),
    pytest.param(
        {"token_verifier": "secret"},
        "token_verifier must be callable, got 'secret'",
        id="not-callable",
    ),
]


@pytest.mark.parametrize(("arguments", "message"), BAD_ARGUMENTS)
def test_bad_arguments_fail_fast(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as error:
        SigningOptions.resolve(environ={}, **arguments)
    assert error.value.message == message


def test_the_propagator_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SV_OTEL_SESSION_SECRET, SECRET.decode())
    monkeypatch.setenv(SV_OTEL_LINKING_REQUIRE_SIGNED, "true")
    propagator = SessionPropagator()
    assert propagator.signing.require_signed is True
    assert propagator.signing.token_verifier is not None
    assert propagator.signing.token_verifier(sign(SESSION)) == SESSION


def test_instrument_takes_the_signed_session_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SV_OTEL_SESSION_SECRET, raising=False)
    with pytest.raises(ConfigurationError) as error:
        sv_otel.instrument(
            tracer_provider=TracerProvider(),
            logger_provider=LoggerProvider(),
            propagator=SessionPropagator(),
            require_signed=True,
        )
    assert error.value.message == (
        "sv_otel.instrument: pass either a propagator or session_secret / require_signed for "
        "the one it builds, not both"
    )
    with pytest.raises(ConfigurationError) as error:
        sv_otel.instrument(
            tracer_provider=TracerProvider(), logger_provider=LoggerProvider(), require_signed=True
        )
    assert error.value.message == (
        "SessionPropagator: require_signed=True needs a token_verifier or a session secret "
        "(an argument or SV_OTEL_SESSION_SECRET)"
    )


# --- over real HTTP ----------------------------------------------------------------------------


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    telemetry = Telemetry("checkout")
    yield telemetry
    telemetry.close()


def call(
    telemetry: Telemetry, propagator: SessionPropagator, headers: Mapping[str, str]
) -> dict[str, Any]:
    """One request to the FastAPI app; the linking attributes of all its spans and logs."""
    with global_propagator(propagator), serve_asgi(fastapi_app(telemetry)) as url:
        response = httpx.get(f"{url}/work", headers=headers)
        assert response.status_code == 200, response.text
        telemetry.wait_for(FASTAPI_SPANS, FASTAPI_LOGS)
    stamped = [linking_attributes(span.attributes) for span in telemetry.spans()]
    stamped += [linking_attributes(log.log_record.attributes) for log in telemetry.logs()]
    assert len(stamped) >= len(FASTAPI_SPANS) + len(FASTAPI_LOGS)
    (first, *rest) = stamped
    assert all(other == first for other in rest), stamped  # every span and record alike
    return first


PLAIN_CARRIERS = {
    "X-Sessionvision-Session-Id": "plain-header",
    "baggage": "session.id=plain-baggage",
    "X-POSTHOG-SESSION-ID": "plain-posthog",
}


@pytest.fixture
def required(monkeypatch: pytest.MonkeyPatch) -> SessionPropagator:
    """The propagator zero-code set-up builds (``SessionPropagator()``) from the environment."""
    monkeypatch.setenv(SV_OTEL_SESSION_SECRET, SECRET.decode())
    monkeypatch.setenv(SV_OTEL_LINKING_REQUIRE_SIGNED, "true")
    return SessionPropagator()


def test_required_a_valid_token_is_stamped_and_plain_headers_are_ignored(
    required: SessionPropagator, telemetry: Telemetry
) -> None:
    headers = {**PLAIN_CARRIERS, "X-Sessionvision-Session-Token": sign(SESSION)}
    assert call(telemetry, required, headers) == {"session.id": SESSION}


@pytest.mark.parametrize("bad", [*BAD_TOKENS, "missing"])
def test_required_a_bad_or_missing_token_stamps_nothing(
    bad: str, required: SessionPropagator, telemetry: Telemetry
) -> None:
    headers = dict(PLAIN_CARRIERS)
    if bad != "missing":
        headers["X-Sessionvision-Session-Token"] = BAD_TOKENS[bad]()
    assert call(telemetry, required, headers) == {}


@pytest.mark.parametrize("bad", list(BAD_TOKENS))
def test_not_required_a_bad_token_falls_back_to_the_next_carrier(
    bad: str, monkeypatch: pytest.MonkeyPatch, telemetry: Telemetry
) -> None:
    monkeypatch.setenv(SV_OTEL_SESSION_SECRET, SECRET.decode())
    monkeypatch.delenv(SV_OTEL_LINKING_REQUIRE_SIGNED, raising=False)
    headers = {
        "X-Sessionvision-Session-Token": BAD_TOKENS[bad](),
        "baggage": "session.id=from-baggage",
        "X-POSTHOG-SESSION-ID": "from-posthog",
    }
    assert call(telemetry, SessionPropagator(), headers) == {"session.id": "from-baggage"}


@pytest.fixture
def restored_propagator() -> Iterator[None]:
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(
        CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    )
    yield
    propagate.set_global_textmap(previous)


@pytest.mark.usefixtures("restored_propagator")
def test_code_set_up_with_instrument_requires_signed_sessions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(SV_OTEL_SESSION_SECRET, raising=False)
    setups: list[sv_otel.LinkingSetup] = []

    def setup(tracer_provider: TracerProvider, logger_provider: LoggerProvider) -> None:
        setups.append(
            sv_otel.instrument(
                tracer_provider=tracer_provider,
                logger_provider=logger_provider,
                session_secret=SECRET,
                require_signed=True,
            )
        )

    telemetry = Telemetry("checkout", setup=setup)
    try:
        (installed,) = setups
        assert installed.propagator is not None
        assert installed.propagator.signing.require_signed is True
        with serve_asgi(fastapi_app(telemetry)) as url:
            for headers in (
                {**PLAIN_CARRIERS, "X-Sessionvision-Session-Token": sign(SESSION)},
                {**PLAIN_CARRIERS, "X-Sessionvision-Session-Token": forged()},
            ):
                response = httpx.get(f"{url}/work", headers=headers)
                assert response.status_code == 200, response.text
            wait_until(
                lambda: [span.name for span in telemetry.spans()].count("background") == 2,
                "the spans of both requests",
            )
        by_trace: dict[int, list[dict[str, Any]]] = {}
        for span in telemetry.spans():
            assert span.context is not None
            by_trace.setdefault(span.context.trace_id, []).append(
                linking_attributes(span.attributes)
            )
        unsigned, signed = sorted(by_trace.values(), key=lambda stamps: bool(stamps[0]))
        assert len(unsigned) == len(signed) >= len(FASTAPI_SPANS)
        assert unsigned == [{}] * len(unsigned)
        assert signed == [{"session.id": SESSION}] * len(signed)
    finally:
        telemetry.close()
