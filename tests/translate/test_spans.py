from __future__ import annotations

from hypothesis import given, settings
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from sv_otel import Event, TranslationStats, events_to_spans, spans_to_events
from sv_otel.ids import run_span_id, session_trace_id
from sv_otel.translate.spans import SESSION_SPAN_NAME
from tests.strategies import BATCHES

A = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
B = "session-b"


def _event(name: str, timestamp: int, session: str, **props: object) -> Event:
    return Event(event=name, timestamp=timestamp, session_id=session, properties=dict(props))


def test_a_session_run_is_one_span_with_one_span_event_per_event() -> None:
    first = Event(
        event="$pageview",
        timestamp=1000,
        session_id=A,
        user_id="u",
        properties={"$browser": "Firefox"},
    )
    events = [first, _event("click", 1500, A, n=1)]
    request = events_to_spans(events)
    scope_spans = request.resource_spans[0].scope_spans[0]
    assert scope_spans.scope.name == "sessionvision"
    (span,) = scope_spans.spans
    assert span.trace_id == bytes.fromhex("a1b2c3d4e5f647118899aabbccddeeff")
    assert span.span_id == run_span_id(A, 1000, 1500, 2, "$pageview")
    assert span.parent_span_id == b""
    assert span.name == SESSION_SPAN_NAME
    assert span.kind == Span.SPAN_KIND_INTERNAL
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (1000 * 10**6, 1500 * 10**6)
    assert list(span.attributes) == [KeyValue(key="session.id", value=AnyValue(string_value=A))]
    assert [(e.name, e.time_unix_nano) for e in span.events] == [
        ("$pageview", 1000 * 10**6),
        ("click", 1500 * 10**6),
    ]
    assert list(span.events[0].attributes) == [
        KeyValue(key="user.id", value=AnyValue(string_value="u")),
        KeyValue(key="user_agent.name", value=AnyValue(string_value="Firefox")),
    ]


def test_interleaved_sessions_become_runs_in_batch_order() -> None:
    events = [_event("a", 3, A), _event("b", 1, B), _event("c", 2, B), _event("d", 0, A)]
    spans = events_to_spans(events).resource_spans[0].scope_spans[0].spans
    assert [[e.name for e in s.events] for s in spans] == [["a"], ["b", "c"], ["d"]]
    assert [s.trace_id for s in spans] == [session_trace_id(x) for x in (A, B, A)]
    # unsorted timestamps: the span covers the earliest to the latest event
    assert (spans[1].start_time_unix_nano, spans[1].end_time_unix_nano) == (10**6, 2 * 10**6)
    assert spans_to_events(events_to_spans(events)) == events


def test_span_ids_are_stable_across_retries() -> None:
    events = [_event("a", 1, A), _event("b", 2, A)]
    first = events_to_spans(events).resource_spans[0].scope_spans[0].spans[0].span_id
    again = events_to_spans(events).resource_spans[0].scope_spans[0].spans[0].span_id
    assert first == again


def test_empty_batch() -> None:
    assert spans_to_events(events_to_spans([])) == []
    assert spans_to_events(ExportTraceServiceRequest()) == []


@settings(max_examples=300, deadline=None)
@given(BATCHES)
def test_round_trip_is_lossless(events: list[Event]) -> None:
    request = events_to_spans(events)
    stats = TranslationStats()
    assert spans_to_events(request, stats=stats) == events
    assert spans_to_events(request.SerializeToString()) == events
    assert stats.converted == len(events)
