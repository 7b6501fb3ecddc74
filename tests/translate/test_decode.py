"""The hand-written wire decoder against hostile bytes: only InvalidOTLPError, never a crash."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs

from sv_otel import (
    Event,
    InvalidOTLPError,
    encode_logs,
    encode_spans,
    logs_to_events,
    spans_to_events,
)
from sv_otel.translate._decode import iter_fields
from sv_otel.translate._encode import field
from sv_otel.translate.stats import TranslationStats

EVENTS = [
    Event(event="a", timestamp=1, session_id="s", properties={"x": [1, {"y": "z"}], "n": None}),
    Event(event="b", timestamp=2, session_id="s", user_id="u", properties={"f": 1.5}),
]
LOGS = encode_logs(EVENTS)
SPANS = encode_spans(EVENTS)


@pytest.mark.parametrize("translate", [logs_to_events, spans_to_events])
@pytest.mark.parametrize("valid", [LOGS, SPANS], ids=["logs", "spans"])
def test_every_truncation_is_refused_or_read(
    translate: Callable[[bytes], list[Event]], valid: bytes
) -> None:
    for cut in range(len(valid)):
        try:
            translate(valid[:cut])
        except InvalidOTLPError as error:
            assert error.message.startswith("protobuf: ")


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=300), st.sampled_from([LOGS, SPANS]), st.integers(0, 400))
def test_arbitrary_bytes_never_escape_as_other_errors(noise: bytes, valid: bytes, at: int) -> None:
    for data in (noise, valid[:at] + noise + valid[at:]):
        for translate in (logs_to_events, spans_to_events):
            try:
                events = translate(data)
            except InvalidOTLPError:
                continue
            assert all(isinstance(event, Event) for event in events)


def _nested(levels: int) -> bytes:
    """An ``AnyValue`` of ``levels`` arrays, each holding the next."""
    value = b""
    for _ in range(levels):
        value = field(b"\x2a", field(b"\x0a", value))  # array_value { values: value }
    return value


SESSION = KeyValue(key="session.id", value=AnyValue(string_value="s")).SerializeToString()


@pytest.mark.parametrize("levels", [64, 65])
def test_a_record_too_deep_is_rejected_alone(levels: int) -> None:
    kept = LogRecord(time_unix_nano=10**15, body=AnyValue(string_value="kept"))
    time = b"\x09" + (10**15).to_bytes(8, "little")  # time_unix_nano, a fixed64
    deep = time + field(b"\x2a", _nested(levels))  # the body
    records = [field(b"\x32", SESSION) + body for body in (deep, kept.SerializeToString())]
    backend = field(b"\x0a", field(b"\x12", b"".join(field(b"\x12", r) for r in records)))
    stats = TranslationStats()
    events = logs_to_events(LOGS + backend, stats=stats)
    assert events[:2] == EVENTS
    bodies = [e.properties["body"] for e in events[2:]]
    assert bodies[-1] == "kept"
    assert len(bodies) == (2 if levels == 64 else 1)  # the deep one too, at 64 levels
    assert stats.rejected == levels - 64
    assert stats.messages == ["log record: AnyValue: nested deeper than 64 levels"][: levels - 64]


@pytest.mark.parametrize("levels", [64, 65])
def test_a_span_too_deep_is_rejected_alone(levels: int) -> None:
    ids = field(b"\x0a", bytes(range(1, 17))) + field(b"\x12", bytes(range(1, 9)))
    deep = field(b"\x4a", field(b"\x0a", b"deep") + field(b"\x12", _nested(levels)))
    spans = [ids + field(b"\x4a", SESSION) + field(b"\x2a", name) for name in (b"a", b"b")]
    spans[0] += deep
    backend = field(b"\x0a", field(b"\x12", b"".join(field(b"\x12", s) for s in spans)))
    stats = TranslationStats()
    events = spans_to_events(SPANS + backend, stats=stats)
    assert events[:2] == EVENTS
    names = [e.properties["name"] for e in events[2:]]
    assert names == (["a"] if levels == 64 else []) + ["b"]
    assert stats.rejected == levels - 64
    assert stats.messages == ["span: AnyValue: nested deeper than 64 levels"][: levels - 64]


def test_old_instrumentation_library_logs_are_read() -> None:
    record = LogRecord(
        time_unix_nano=5 * 10**6,
        body=AnyValue(string_value="hello"),
        attributes=[KeyValue(key="session.id", value=AnyValue(string_value="s"))],
    )
    scope_body = ScopeLogs(log_records=[record]).SerializeToString()
    # ResourceLogs field 1000 (the deprecated instrumentation_library_logs) has ScopeLogs' shape
    resource_logs = b"\xc2\x3e" + bytes([len(scope_body)]) + scope_body
    request = field(b"\x0a", resource_logs)
    (event,) = logs_to_events(request)
    assert (event.event, event.session_id, event.properties["body"]) == ("$log", "s", "hello")


def test_invalid_utf8_is_refused() -> None:
    request = ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord()])])]
    ).SerializeToString()
    bad = request + field(b"\x0a", field(b"\x12", field(b"\x12", field(b"\x62", b"\xff"))))
    with pytest.raises(InvalidOTLPError):
        # our own scope reads the event name strictly
        logs_to_events(
            field(
                b"\x0a",
                field(
                    b"\x12",
                    field(b"\x0a", field(b"\x0a", b"sessionvision"))
                    + field(b"\x12", field(b"\x62", b"\xff")),
                ),
            )
        )
    assert logs_to_events(bad) == []


@pytest.mark.parametrize("translate", [logs_to_events, spans_to_events])
@pytest.mark.parametrize("body", [b"\x00", b"\x00" * 64, b"\x01\x00", field(b"\x0a", b"\x00\x00")])
def test_field_number_zero_is_refused(
    translate: Callable[[bytes], list[Event]], body: bytes
) -> None:
    # Zero bytes (tag 0) are not protobuf: a body of zeros must not pass as an empty request.
    with pytest.raises(InvalidOTLPError, match="protobuf: field number 0 is not valid"):
        translate(body)


# An unknown field 99 encoded as a group, holding a varint, a string, a fixed64 and a nested
# group (field 7): valid protobuf, which parsers skip like any unknown field.
GROUP = b"".join(
    [b"\x9b\x06", b"\x08\x01", b"\x12\x02hi", b"\x19" + bytes(8), b"\x3b\x08\x02\x3c", b"\x9c\x06"]
)


def test_unknown_groups_are_skipped_at_every_level() -> None:
    logs = ExportLogsServiceRequest.FromString(LOGS)
    for message in (
        logs,
        logs.resource_logs[0],
        logs.resource_logs[0].scope_logs[0],
        logs.resource_logs[0].scope_logs[0].log_records[0],
        logs.resource_logs[0].scope_logs[0].log_records[0].attributes[0],
    ):
        message.MergeFromString(GROUP)  # upb keeps it as an unknown field and writes it back
    spans = ExportTraceServiceRequest.FromString(SPANS)
    span = spans.resource_spans[0].scope_spans[0].spans[0]
    for part in (spans, span, span.events[0], span.events[0].attributes[0]):
        part.MergeFromString(GROUP)
    logs_bytes, spans_bytes = logs.SerializeToString(), spans.SerializeToString()
    assert logs_bytes.count(GROUP) == 5 and spans_bytes.count(GROUP) == 4
    assert logs_to_events(logs_bytes) == EVENTS
    assert spans_to_events(spans_bytes) == EVENTS


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\x9c\x06", "an end-group tag without its start-group tag"),
        (b"\x9b\x06\x08\x01", "a group runs past the end of its message"),
        (b"\x9b\x06\x3b\x9c\x06\x3c", "a group ends with another field's end tag"),
        (b"\x9b\x06\x0e\x9c\x06", "unsupported wire type 6"),
        (field(b"\x0a", b"\x9b\x06") + b"\x9c\x06", "a group runs past the end of its message"),
    ],
)
def test_malformed_groups_are_refused(body: bytes, problem: str) -> None:
    for translate in (logs_to_events, spans_to_events):
        with pytest.raises(InvalidOTLPError, match=f"^protobuf: {problem}$"):
            translate(body)


@pytest.mark.parametrize("levels", [64, 65])
@pytest.mark.parametrize(
    ("translate", "valid", "noun", "records"),
    [(logs_to_events, LOGS, "log record", 2), (spans_to_events, SPANS, "span", 1)],
    ids=["logs", "spans"],
)
def test_a_resource_too_deep_rejects_its_records_alone(
    levels: int, translate: Callable[..., list[Event]], valid: bytes, noun: str, records: int
) -> None:
    deep = field(b"\x0a", field(b"\x0a", b"deep") + field(b"\x12", _nested(levels)))
    resource = field(b"\x0a", deep)  # Resource { attributes: deep }
    first = field(b"\x0a", resource + _scope_blocks(valid))  # the same records, deep resource
    stats = TranslationStats()
    events = translate(first + valid, stats=stats)
    if levels == 64:
        assert events == EVENTS + EVENTS
        assert stats.rejected == 0
    else:
        assert events == EVENTS  # the second resource's records are still read
        assert stats.rejected == records  # two log records, or one span of two span events
        assert stats.messages == [
            f"{noun}: its resource has an attribute nested deeper than 64 levels"
        ]


def _scope_blocks(request: bytes) -> bytes:
    """The scope blocks (field 2) of a one-resource request's ``Resource*`` block, encoded."""
    ((number, _, start, end),) = iter_fields(request, 0, len(request))
    assert number == 1
    return b"".join(
        field(b"\x12", request[a:b]) for n, _, a, b in iter_fields(request, start, end) if n == 2
    )
