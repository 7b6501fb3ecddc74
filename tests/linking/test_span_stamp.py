"""The fast path of stamping against the SDK's public ``set_attributes``, on the real SDK.

Each case exports the same span twice through real providers configured by the same
``OTEL_SPAN_ATTRIBUTE_*`` variables: once stamped by :func:`stamp_span`, once by
``span.set_attributes``. Both must be identical (attributes in order, dropped count, limits),
and the fast path must be taken exactly where it is expected, so an SDK upgrade that moves the
internals the fast path relies on fails here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.context import Context
from opentelemetry.sdk.environment_variables import (
    OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT,
    OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT,
)
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN

from sv_otel import SessionSpanProcessor
from sv_otel.linking import SessionIdentity
from sv_otel.linking.identity import with_identity
from sv_otel.linking.span_stamp import SpanStamp, stamp_span
from tests.linking._apps import SESSION

ANONYMOUS = "anon-1"
STAMP = SpanStamp.of(
    {
        "session.id": SESSION,
        "enduser.pseudo.id": ANONYMOUS,
        "sessionvision.client.user.id": "user_456",
    }
)
REQUEST = {f"http.attr.{i}": f"value-{i}" for i in range(10)}


class Stamping(SpanProcessor):
    """Stamps every span at start, by the fast path or by the public API."""

    def __init__(self, fast: bool) -> None:
        self.fast = fast
        self.taken: list[bool] = []

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        if self.fast:
            self.taken.append(stamp_span(span, STAMP))
        else:
            span.set_attributes(STAMP.attributes)


@dataclass
class Exported:
    attributes: list[tuple[str, Any]]
    dropped: int
    maxlen: int | None
    max_value_len: int | None


def export(
    fast: bool, attributes: dict[str, Any] | None, after: Callable[[Span], None] | None = None
) -> tuple[Exported, list[bool]]:
    """Start and end one span through a fresh provider (limits from the environment)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    stamping = Stamping(fast)
    provider.add_span_processor(stamping)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("t").start_span("s", attributes=attributes)
    assert isinstance(span, Span)
    if after is not None:
        after(span)
    span.end()
    provider.shutdown()
    (finished,) = exporter.get_finished_spans()
    stored = finished._attributes
    assert isinstance(stored, BoundedAttributes)
    return (
        Exported(
            list((finished.attributes or {}).items()),
            finished.dropped_attributes,
            stored.maxlen,
            stored.max_value_len,
        ),
        stamping.taken,
    )


CASES = [
    pytest.param({}, None, True, id="default-limits-no-attributes"),
    pytest.param({}, REQUEST, True, id="default-limits-ten-attributes"),
    pytest.param(
        {}, {"session.id": "given", "k": 1, "enduser.pseudo.id": "x"}, True, id="keys-already-there"
    ),
    pytest.param({OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "5"}, {"a": 1, "b": 2}, True, id="count-room"),
    pytest.param(
        {OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "4"}, {"a": 1, "b": 2}, False, id="count-overflow"
    ),
    pytest.param({OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "0"}, None, False, id="count-zero"),
    pytest.param(
        {OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: str(len(SESSION))}, REQUEST, True, id="length-fits"
    ),
    pytest.param(
        {OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "8"}, REQUEST, False, id="length-truncates"
    ),
    pytest.param(
        {OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: "12", OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT: "64"},
        REQUEST,
        False,
        id="both-limits-count-overflow",
    ),
]


@pytest.mark.parametrize(("environ", "attributes", "fast"), CASES)
def test_the_fast_path_stores_what_set_attributes_stores(
    environ: dict[str, str],
    attributes: dict[str, Any] | None,
    fast: bool,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)

    stamped, taken = export(True, attributes)
    public, _ = export(False, attributes)

    assert taken == [fast]
    assert stamped == public
    if fast:  # nothing dropped or truncated: the stamp is there as given
        assert STAMP.attributes.items() <= dict(stamped.attributes).items()
        assert stamped.dropped == 0


def test_the_fast_path_keeps_what_the_span_sets_later() -> None:
    def later(span: Span) -> None:
        span.set_attribute("session.id", "s2")
        span.set_attribute("http.response.status_code", 200)

    stamped, taken = export(True, REQUEST, later)
    public, _ = export(False, REQUEST, later)
    assert taken == [True]
    assert stamped == public
    assert stamped.attributes[-2:] == [("session.id", "s2"), ("http.response.status_code", 200)]


def test_an_ended_span_goes_through_the_public_api(caplog: pytest.LogCaptureFixture) -> None:
    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s")
    span.end()
    with caplog.at_level(logging.WARNING, logger="opentelemetry.sdk.trace"):
        assert stamp_span(span, STAMP) is False
    assert isinstance(span, ReadableSpan)
    assert dict(span.attributes or {}) == {}
    assert [record.getMessage() for record in caplog.records] == [
        "Setting attribute on ended span."
    ]


def test_a_span_that_is_not_the_sdks_goes_through_the_public_api() -> None:
    class OtherAttributes(BoundedAttributes):
        pass

    provider = TracerProvider()
    span = provider.get_tracer("t").start_span("s")
    assert isinstance(span, Span)
    span._attributes = OtherAttributes(immutable=False)
    assert stamp_span(span, STAMP) is False
    assert dict(span._attributes) == dict(STAMP.attributes)
    assert stamp_span(INVALID_SPAN, STAMP) is False  # a non-recording span: nothing to do
    span.end()


def test_the_session_processor_takes_the_fast_path_and_matches_the_public_api() -> None:
    identity = SessionIdentity(SESSION, client_user_id="user_456", anonymous_id=ANONYMOUS)
    context = with_identity(identity, Context())
    exporters = []
    for processor in (SessionSpanProcessor(), Stamping(fast=False)):
        exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(processor)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        provider.get_tracer("t").start_span("s", context=context, attributes=REQUEST).end()
        provider.shutdown()
        exporters.append(exporter)
    (session,), (public,) = (exporter.get_finished_spans() for exporter in exporters)
    assert list((session.attributes or {}).items()) == list((public.attributes or {}).items())
    assert session.dropped_attributes == public.dropped_attributes == 0


@pytest.fixture
def spans() -> Iterator[Callable[..., Span]]:
    provider = TracerProvider()

    def start(**attributes: Any) -> Span:
        span = provider.get_tracer("t").start_span("s", attributes=attributes)
        assert isinstance(span, Span)
        return span

    yield start
    provider.shutdown()


def test_the_fast_path_is_taken_for_an_ordinary_span(spans: Callable[..., Span]) -> None:
    span = spans(a=1)
    assert stamp_span(span, STAMP) is True
    assert dict(span.attributes or {}) == {"a": 1, **STAMP.attributes}
    span.end()


def test_a_stamp_knows_its_longest_value() -> None:
    assert STAMP.longest == len(SESSION)
    assert SpanStamp.of({}).longest == 0
