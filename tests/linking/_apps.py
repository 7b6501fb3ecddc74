"""Real instrumented services for the linking tests: per-service telemetry (a real SDK with
in-memory exporters, the session processors first), a FastAPI and a Flask app that make every
kind of span and log record, and a downstream FastAPI service that reports what it received."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import requests
from fastapi import BackgroundTasks, FastAPI, Request
from flask import Flask, jsonify
from flask import request as flask_request
from flask.typing import ResponseReturnValue
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import sv_otel
from sv_otel.linking import SessionLogRecordProcessor, SessionPropagator, SessionSpanProcessor
from sv_otel.sessions.token import session_token_verifier, sign_session_token
from tests.servers import wait_until

SECRET = b"linking-tests-secret-32-bytes-ok"
"""The secret the tests' session tokens are signed with (sv_otel.sessions.token)."""


def sign(session_id: str, secret: bytes = SECRET, ttl_seconds: int = 3600) -> str:
    """A signed session token, as the sv_otel server issues it."""
    return sign_session_token(session_id, secret=secret, ttl_seconds=ttl_seconds)


verify = session_token_verifier(SECRET)
"""The verifier a backend configured with ``SECRET`` uses."""


@contextmanager
def global_propagator(propagator: SessionPropagator | None = None) -> Iterator[None]:
    """``tracecontext,baggage,sessionvision`` as the global propagator, restored afterwards."""
    previous = propagate.get_global_textmap()
    propagate.set_global_textmap(
        CompositePropagator(
            [
                TraceContextTextMapPropagator(),
                W3CBaggagePropagator(),
                propagator or SessionPropagator(token_verifier=verify),
            ]
        )
    )
    try:
        yield
    finally:
        propagate.set_global_textmap(previous)


class Telemetry:
    """One service's real SDK pipeline: session processors first, then in-memory exporters."""

    def __init__(
        self,
        service: str,
        setup: Callable[[TracerProvider, LoggerProvider], object] | None = None,
        **options: Any,
    ) -> None:
        """``setup`` (e.g. ``sv_otel.instrument``) replaces adding the session processors."""
        resource = Resource.create({"service.name": service})
        self.span_exporter = InMemorySpanExporter()
        self.log_exporter = InMemoryLogRecordExporter()
        self.tracer_provider = TracerProvider(resource=resource)
        self.logger_provider = LoggerProvider(resource=resource)
        if setup is None:
            log_options = {k: v for k, v in options.items() if k != "session_link"}
            self.tracer_provider.add_span_processor(SessionSpanProcessor(**options))
            self.logger_provider.add_log_record_processor(SessionLogRecordProcessor(**log_options))
        else:
            setup(self.tracer_provider, self.logger_provider)
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.span_exporter))
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.log_exporter))
        self.tracer = self.tracer_provider.get_tracer("tests.linking")
        self.logger = logging.getLogger(f"tests.linking.{service}")
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.handler = LoggingHandler(logger_provider=self.logger_provider)
        self.logger.addHandler(self.handler)

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.span_exporter.get_finished_spans()

    def span(self, name: str) -> ReadableSpan:
        (found,) = [span for span in self.spans() if span.name == name]
        return found

    def logs(self) -> list[ReadableLogRecord]:
        return list(self.log_exporter.get_finished_logs())

    def log_bodies(self) -> set[str]:
        return {str(log.log_record.body) for log in self.logs()}

    def wait_for(self, span_names: set[str], log_bodies: set[str]) -> None:
        wait_until(
            lambda: (
                span_names <= {span.name for span in self.spans()}
                and log_bodies <= self.log_bodies()
            ),
            f"spans {sorted(span_names)} and logs {sorted(log_bodies)}",
        )

    def close(self) -> None:
        self.logger.removeHandler(self.handler)
        self.tracer_provider.shutdown()
        self.logger_provider.shutdown()


FASTAPI_SPANS = {"GET /work", "child", "SELECT items", "asyncio task", "thread", "background"}
FASTAPI_LOGS = {"handler", "db read", "task log", "thread log", "background log"}
FLASK_SPANS = {"GET /work", "child", "SELECT items", "pool task", "thread"}
FLASK_LOGS = {"handler", "db read", "pool log", "thread log"}


def _query(telemetry: Telemetry) -> None:
    with telemetry.tracer.start_as_current_span(
        "SELECT items",
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": "sqlite", "db.operation.name": "SELECT"},
    ):
        db = sqlite3.connect(":memory:")
        try:
            db.execute("CREATE TABLE items (name TEXT)")
            db.execute("SELECT count(*) FROM items").fetchone()
        finally:
            db.close()
        telemetry.logger.info("db read")


def _in_thread(telemetry: Telemetry) -> None:
    with telemetry.tracer.start_as_current_span("thread"):
        telemetry.logger.info("thread log")


def fastapi_app(telemetry: Telemetry, downstream: str | None = None) -> FastAPI:
    """``GET /work``: a child span, a DB span, an asyncio task, a thread, a background task,
    and (with ``downstream``) a call through an instrumented ``httpx`` client."""
    app = FastAPI()

    async def task() -> None:
        with telemetry.tracer.start_as_current_span("asyncio task"):
            telemetry.logger.info("task log")

    def background() -> None:
        with telemetry.tracer.start_as_current_span("background"):
            telemetry.logger.info("background log")

    @app.get("/work")
    async def work(tasks: BackgroundTasks, request: Request) -> dict[str, Any]:
        telemetry.logger.info("handler")
        with telemetry.tracer.start_as_current_span("child"):
            _query(telemetry)
        await asyncio.create_task(task())
        await asyncio.to_thread(_in_thread, telemetry)
        tasks.add_task(background)
        user = request.headers.get("authorization")
        if user:
            sv_otel.bind_user(user.removeprefix("Bearer "))
        downstream_answer = None
        if downstream:
            async with httpx.AsyncClient() as client:
                HTTPXClientInstrumentor.instrument_client(
                    client, tracer_provider=telemetry.tracer_provider
                )
                downstream_answer = (await client.get(downstream)).json()
        return {"downstream": downstream_answer}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=telemetry.tracer_provider)
    return app


def flask_app(telemetry: Telemetry, downstream: str | None = None) -> Flask:
    """``GET /work``: a child span, a DB span, a thread-pool task and a plain thread (both run
    in a copy of the context), and (with ``downstream``) a call through instrumented
    ``requests``."""
    app = Flask(__name__)

    def pool_task() -> None:
        with telemetry.tracer.start_as_current_span("pool task"):
            telemetry.logger.info("pool log")

    @app.get("/work")
    def work() -> ResponseReturnValue:
        telemetry.logger.info("handler")
        with telemetry.tracer.start_as_current_span("child"):
            _query(telemetry)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(contextvars.copy_context().run, pool_task).result()
        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(_in_thread, telemetry)
        )
        thread.start()
        thread.join()
        user = flask_request.headers.get("authorization")
        if user:
            sv_otel.bind_user(user.removeprefix("Bearer "))
        downstream_answer = None
        if downstream:
            downstream_answer = requests.get(downstream, timeout=10).json()
        return jsonify(downstream=downstream_answer)

    FlaskInstrumentor().instrument_app(app, tracer_provider=telemetry.tracer_provider)
    return app


@contextmanager
def instrumented_requests(telemetry: Telemetry) -> Iterator[None]:
    instrumentor = RequestsInstrumentor()
    instrumentor.instrument(tracer_provider=telemetry.tracer_provider)
    try:
        yield
    finally:
        instrumentor.uninstrument()


@dataclass
class Received:
    """What the downstream service saw: its raw ``baggage`` header values."""

    baggage: list[list[str]]


def downstream_app(telemetry: Telemetry, received: Received) -> FastAPI:
    """``GET /stock``: records the ``baggage`` header values, logs, makes a child span."""
    app = FastAPI()

    @app.get("/stock")
    async def stock(request: Request) -> dict[str, Any]:
        received.baggage.append(request.headers.getlist("baggage"))
        telemetry.logger.info("downstream handler")
        with telemetry.tracer.start_as_current_span("downstream child"):
            pass
        session = sv_otel.current_session()
        return {"session_id": session.session_id if session else None}

    FastAPIInstrumentor.instrument_app(app, tracer_provider=telemetry.tracer_provider)
    return app


SESSION = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
ANONYMOUS = "550e8400-e29b-41d4-a716-446655440000"
CLIENT_USER = "user_456"
REPLAY = "0123456789abcdef0123456789abcdef"
OPENREPLAY_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzaWQiOjQyfQ.c2lnbmF0dXJl"


@dataclass(frozen=True)
class Carrier:
    """Request headers a browser integration sends, and the attributes they must produce."""

    name: str
    headers: dict[str, str]
    expected: dict[str, str]


CARRIERS = [
    Carrier(
        "sessionvision-headers",
        {
            "X-Sessionvision-Session-Id": SESSION,
            "X-Sessionvision-User-Id": CLIENT_USER,
            "X-Sessionvision-Anonymous-Id": ANONYMOUS,
        },
        {
            "session.id": SESSION,
            "sessionvision.client.user.id": CLIENT_USER,
            "enduser.pseudo.id": ANONYMOUS,
        },
    ),
    Carrier(
        "w3c-baggage",
        {"baggage": f"session.id={SESSION},user.id={CLIENT_USER}"},
        {"session.id": SESSION, "sessionvision.client.user.id": CLIENT_USER},
    ),
    Carrier(
        "posthog",
        {"X-POSTHOG-SESSION-ID": SESSION, "X-POSTHOG-DISTINCT-ID": ANONYMOUS},
        {"session.id": SESSION, "enduser.pseudo.id": ANONYMOUS},
    ),
    Carrier("highlight", {"X-Highlight-Request": f"{SESSION}/req-17"}, {"session.id": SESSION}),
    Carrier(
        "openreplay",
        {"X-OpenReplay-SessionToken": OPENREPLAY_TOKEN},
        {"session.id": OPENREPLAY_TOKEN},
    ),
    Carrier(
        "sentry",
        {"baggage": f"sentry-trace_id={'ab' * 16},sentry-replay_id={REPLAY},sentry-sampled=true"},
        {"session.id": REPLAY},
    ),
    Carrier(
        "signed-token",
        {"X-Sessionvision-Session-Token": sign(SESSION), "X-Sessionvision-Session-Id": "forged"},
        {"session.id": SESSION},
    ),
]
"""Every carrier, as a browser integration would send it."""

LINKING_KEYS = {
    "session.id",
    "sessionvision.client.user.id",
    "enduser.pseudo.id",
    "user.id",
    "highlight.session_id",
    "sessionId",
}


def linking_attributes(attributes: Any) -> dict[str, Any]:
    """The linking keys among ``attributes`` (a span's or a log record's)."""
    return {key: value for key, value in dict(attributes or {}).items() if key in LINKING_KEYS}
