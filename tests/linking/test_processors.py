"""The session processors on a real SDK: spans, log records, tasks, threads, options, errors."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Iterator, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from opentelemetry import context as otel_context
from opentelemetry._logs import LogRecord
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.instrumentation.threading import ThreadingInstrumentor
from opentelemetry.sdk._logs import LoggerProvider, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import Span, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from sv_otel import ConfigurationError, SessionLogRecordProcessor, SessionSpanProcessor
from sv_otel.ids import session_trace_id
from sv_otel.linking import SessionIdentity
from sv_otel.linking.identity import with_identity
from sv_otel.linking.processors import session_link_context
from tests.linking._apps import SESSION

STAMP = {"session.id": SESSION, "enduser.pseudo.id": "anon-1"}


def request_context(client_user_id: str | None = None, base: Context | None = None) -> Context:
    """The context the propagator makes for a browser request."""
    identity = SessionIdentity(SESSION, client_user_id=client_user_id, anonymous_id="anon-1")
    return with_identity(identity, Context() if base is None else base)


class Pipeline:
    def __init__(self, **options: Any) -> None:
        self.spans = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SessionSpanProcessor(**options))
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.spans))
        self.tracer = self.tracer_provider.get_tracer("t")
        self.logs = InMemoryLogRecordExporter()
        self.logger_provider = LoggerProvider()
        log_options = {k: v for k, v in options.items() if k != "session_link"}
        self.logger_provider.add_log_record_processor(SessionLogRecordProcessor(**log_options))
        self.logger_provider.add_log_record_processor(SimpleLogRecordProcessor(self.logs))
        self.logger = self.logger_provider.get_logger("t")

    def attributes(self, name: str) -> dict[str, Any]:
        (span,) = [span for span in self.spans.get_finished_spans() if span.name == name]
        return dict(span.attributes or {})

    def log_attributes(self) -> list[dict[str, Any]]:
        return [dict(log.log_record.attributes or {}) for log in self.logs.get_finished_logs()]


@pytest.fixture
def pipeline() -> Iterator[Pipeline]:
    pipeline = Pipeline()
    yield pipeline
    pipeline.tracer_provider.shutdown()
    pipeline.logger_provider.shutdown()


@pytest.fixture
def attached() -> Iterator[None]:
    """Run the test body in a request context, as a server instrumentation does."""
    token = otel_context.attach(request_context())
    yield
    otel_context.detach(token)


@pytest.mark.usefixtures("attached")
def test_child_spans_and_log_records_get_the_session(pipeline: Pipeline) -> None:
    with (
        pipeline.tracer.start_as_current_span("root"),
        pipeline.tracer.start_as_current_span("child"),
    ):
        pipeline.tracer.start_span("grandchild").end()
        pipeline.logger.emit(body="inside")
    for name in ("root", "child", "grandchild"):
        assert pipeline.attributes(name) == STAMP
    assert pipeline.log_attributes() == [STAMP]


@pytest.mark.usefixtures("attached")
def test_asyncio_tasks_get_the_session(pipeline: Pipeline) -> None:
    async def work(name: str) -> None:
        await asyncio.sleep(0)
        with pipeline.tracer.start_as_current_span(name):
            pipeline.logger.emit(body=name)

    async def main() -> None:
        await asyncio.gather(*(asyncio.create_task(work(f"task {i}")) for i in range(3)))
        await asyncio.to_thread(lambda: pipeline.tracer.start_span("to_thread").end())

    asyncio.run(main())
    for name in ("task 0", "task 1", "task 2", "to_thread"):
        assert pipeline.attributes(name) == STAMP
    assert pipeline.log_attributes() == [STAMP] * 3


@pytest.mark.usefixtures("attached")
def test_threads_that_carry_the_context_get_the_session(pipeline: Pipeline) -> None:
    def work(name: str) -> None:
        pipeline.tracer.start_span(name).end()
        pipeline.logger.emit(body=name)

    thread = threading.Thread(target=contextvars.copy_context().run, args=(work, "thread"))
    thread.start()
    thread.join()
    with ThreadPoolExecutor(max_workers=2) as pool:
        pool.submit(contextvars.copy_context().run, work, "pool").result()
    assert pipeline.attributes("thread") == STAMP
    assert pipeline.attributes("pool") == STAMP
    assert pipeline.log_attributes() == [STAMP, STAMP]


@pytest.mark.usefixtures("attached")
def test_plain_threads_get_the_session_with_the_threading_instrumentation(
    pipeline: Pipeline,
) -> None:
    instrumentor = ThreadingInstrumentor()
    instrumentor.instrument()
    try:
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(lambda: pipeline.tracer.start_span("plain pool").end()).result()
        thread = threading.Thread(target=lambda: pipeline.tracer.start_span("plain").end())
        thread.start()
        thread.join()
    finally:
        instrumentor.uninstrument()
    assert pipeline.attributes("plain pool") == STAMP
    assert pipeline.attributes("plain") == STAMP


def test_a_thread_without_the_context_gets_nothing(pipeline: Pipeline) -> None:
    token = otel_context.attach(request_context())
    try:
        thread = threading.Thread(target=lambda: pipeline.tracer.start_span("lost").end())
        thread.start()
        thread.join()
    finally:
        otel_context.detach(token)
    assert pipeline.attributes("lost") == {}


def test_the_parent_context_is_read_not_the_current_one(pipeline: Pipeline) -> None:
    pipeline.tracer.start_span("explicit", context=request_context()).end()
    token = otel_context.attach(request_context())
    try:
        other = otel_context.set_value("unrelated", 1, Context())  # an empty one means current
        pipeline.tracer.start_span("other request", context=other).end()
        pipeline.logger.emit(body="explicit", context=other)
    finally:
        otel_context.detach(token)
    assert pipeline.attributes("explicit") == STAMP
    assert pipeline.attributes("other request") == {}
    assert pipeline.log_attributes() == [{}]


def test_spans_and_logs_outside_a_request_get_nothing(pipeline: Pipeline) -> None:
    pipeline.tracer.start_span("startup").end()
    pipeline.logger.emit(body="startup")
    assert pipeline.attributes("startup") == {}
    assert pipeline.log_attributes() == [{}]


def test_an_identity_without_ids_stamps_nothing(pipeline: Pipeline) -> None:
    context = with_identity(SessionIdentity(None), Context())
    pipeline.tracer.start_span("empty", context=context).end()
    pipeline.logger.emit(body="empty", context=context)
    assert pipeline.attributes("empty") == {}
    assert pipeline.log_attributes() == [{}]


def test_log_records_keep_their_own_values_and_spans_take_a_later_one(
    pipeline: Pipeline,
) -> None:
    context = request_context()
    pipeline.logger.emit(
        body="mine", context=context, attributes={"enduser.pseudo.id": "given", "k": 1}
    )
    with pipeline.tracer.start_as_current_span("worker", context=context) as span:
        span.set_attribute("session.id", "s2")
    assert pipeline.log_attributes() == [
        {"session.id": SESSION, "enduser.pseudo.id": "given", "k": 1}
    ]
    assert pipeline.attributes("worker") == {**STAMP, "session.id": "s2"}


def test_a_client_user_id_is_not_an_authenticated_one() -> None:
    context = request_context(client_user_id="claimed")
    default, trusting = Pipeline(), Pipeline(trust_client_user_id=True)
    for pipeline in (default, trusting):
        pipeline.tracer.start_span("s", context=context).end()
        pipeline.logger.emit(body="l", context=context)
    assert default.attributes("s") == {**STAMP, "sessionvision.client.user.id": "claimed"}
    assert default.log_attributes() == [{**STAMP, "sessionvision.client.user.id": "claimed"}]
    assert trusting.attributes("s") == {**STAMP, "user.id": "claimed"}
    assert trusting.log_attributes() == [{**STAMP, "user.id": "claimed"}]


def test_vendor_aliases() -> None:
    pipeline = Pipeline(vendor_aliases=("highlight", "posthog"))
    pipeline.tracer.start_span("s", context=request_context()).end()
    pipeline.logger.emit(body="l", context=request_context())
    aliases = {"highlight.session_id": SESSION, "sessionId": SESSION}
    assert pipeline.attributes("s") == {**STAMP, **aliases}
    assert pipeline.log_attributes() == [{**STAMP, **aliases}]


def test_the_session_link_goes_from_the_local_root_span_to_the_session_trace() -> None:
    pipeline = Pipeline(session_link=True)
    remote_parent = NonRecordingSpan(
        SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    )
    context = set_span_in_context(remote_parent, request_context())
    with pipeline.tracer.start_as_current_span("server", context=context):
        pipeline.tracer.start_span("child").end()
    spans = {span.name: span for span in pipeline.spans.get_finished_spans()}
    (link,) = spans["server"].links
    assert link.context.trace_id == int.from_bytes(session_trace_id(SESSION), "big")
    assert link.context.trace_id == int(SESSION.replace("-", ""), 16)  # a UUID is the trace id
    assert link.context == session_link_context(SESSION)
    assert dict(link.attributes or {}) == {"session.id": SESSION}
    assert spans["child"].links == ()
    assert spans["server"].context.trace_id == 0xABC  # the request keeps its own trace


def test_no_session_link_by_default(pipeline: Pipeline) -> None:
    pipeline.tracer.start_span("server", context=request_context()).end()
    (span,) = pipeline.spans.get_finished_spans()
    assert span.links == ()


def test_an_unknown_vendor_alias_fails_fast() -> None:
    with pytest.raises(ConfigurationError) as error:
        SessionSpanProcessor(vendor_aliases=["datadog"])
    assert (
        error.value.message == "vendor_aliases: unknown alias 'datadog' (known: highlight, posthog)"
    )
    with pytest.raises(ConfigurationError) as error:
        SessionLogRecordProcessor(vendor_aliases="posthog")
    assert error.value.message == (
        "vendor_aliases: expected a collection of names, got the string 'posthog'"
    )


class BrokenSpan(Span):
    """An SDK span whose parent cannot be read: a stand-in for any failure inside ``on_start``."""

    @property
    def parent(self) -> SpanContext | None:
        raise RuntimeError("parent bug")


def test_the_processors_never_raise_into_the_application(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    span_processor = SynchronousMultiSpanProcessor()
    span_processor.add_span_processor(SessionSpanProcessor())
    span_processor.add_span_processor(SimpleSpanProcessor(pipeline.spans))
    span_context = SpanContext(0x1F, 0x2F, is_remote=False, trace_flags=TraceFlags(1))
    log_processor = SessionLogRecordProcessor()
    with caplog.at_level(logging.DEBUG, logger="sv_otel.linking.processors"):
        for _ in range(3):
            # A fresh identity each time, so on_start asks for the span's parent.
            span = BrokenSpan("survives", span_context, span_processor=span_processor)
            span.start(parent_context=request_context())
            span.end()
            # Attributes another processor has frozen: the stamp cannot be written.
            record = ReadWriteLogRecord(LogRecord(body="survives", context=request_context()))
            record.log_record.attributes = BoundedAttributes(
                attributes={"frozen": True}, immutable=True
            )
            log_processor.on_emit(record)
            assert dict(record.log_record.attributes or {}) == {"frozen": True}
    assert len(pipeline.spans.get_finished_spans()) == 3
    levels = [(record.levelname, record.getMessage()) for record in caplog.records]
    assert levels == [
        (
            "WARNING",
            "SessionSpanProcessor.on_start failed (later failures are logged at debug level)",
        ),
        (
            "WARNING",
            "SessionLogRecordProcessor.on_emit failed (later failures are logged at debug level)",
        ),
        ("DEBUG", "SessionSpanProcessor.on_start failed"),
        ("DEBUG", "SessionLogRecordProcessor.on_emit failed"),
        ("DEBUG", "SessionSpanProcessor.on_start failed"),
        ("DEBUG", "SessionLogRecordProcessor.on_emit failed"),
    ]


def test_the_log_processor_does_not_enable_a_logger_by_itself() -> None:
    processor = SessionLogRecordProcessor()
    assert processor.enabled() is False
    provider = LoggerProvider()
    provider.add_log_record_processor(processor)
    assert provider.get_logger("t").enabled() is False
    assert processor.force_flush() is True
    processor.shutdown()


def test_the_span_processor_lifecycle_methods() -> None:
    processor = SessionSpanProcessor()
    assert processor.force_flush() is True
    processor.on_end(object())
    processor.shutdown()


def test_the_processors_can_be_subclassed(pipeline: Pipeline) -> None:
    class TenantSpanProcessor(SessionSpanProcessor):
        def on_start(self, span: Span, parent_context: Context | None = None) -> None:
            super().on_start(span, parent_context)
            span.set_attribute("tenant", "acme")

    class TenantLogRecordProcessor(SessionLogRecordProcessor):
        def on_emit(self, log_record: ReadWriteLogRecord) -> None:
            super().on_emit(log_record)
            attributes = log_record.log_record.attributes
            assert isinstance(attributes, MutableMapping)
            attributes["tenant"] = "acme"

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(TenantSpanProcessor())
    tracer_provider.add_span_processor(SimpleSpanProcessor(pipeline.spans))
    tracer_provider.get_tracer("t").start_span("sub", context=request_context()).end()
    assert pipeline.attributes("sub") == {**STAMP, "tenant": "acme"}
    record = ReadWriteLogRecord(LogRecord(body="sub", context=request_context()))
    TenantLogRecordProcessor().on_emit(record)
    assert dict(record.log_record.attributes or {}) == {**STAMP, "tenant": "acme"}
