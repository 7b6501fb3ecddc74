"""Reading log records back: sv_otel's own records, and when a record is not one of them."""

from __future__ import annotations

from sv_otel import Event, events_to_logs, logs_to_events

SESSION = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
EVENT = Event(
    event="purchase_completed",
    timestamp=1709856000000,
    properties={"amount": 49.99, "cart": {"items": ["a", 1]}},
    anonymous_id="anon-1",
    session_id=SESSION,
)


def test_a_record_with_a_body_is_read_as_backend_telemetry() -> None:
    request = events_to_logs([EVENT])
    request.resource_logs[0].scope_logs[0].log_records[0].body.string_value = "a backend log"

    [event] = logs_to_events(request)

    # sv_otel never writes a body: the record is read as a backend's, with its trace id.
    assert event.event == "purchase_completed"
    assert event.properties["trace_id"] == "a1b2c3d4e5f647118899aabbccddeeff"


def test_a_field_log_record_does_not_have_is_skipped() -> None:
    request = events_to_logs([EVENT])
    record = request.resource_logs[0].scope_logs[0].log_records[0]
    record.MergeFromString(b"\xf8\x06\x2a")  # field 111, a varint: unknown to LogRecord
    assert logs_to_events(request) == [EVENT]

    record.flags = 1  # a LogRecord field sv_otel never writes
    [event] = logs_to_events(request)
    assert event != EVENT and event.properties["trace_id"] == "a1b2c3d4e5f647118899aabbccddeeff"
