from __future__ import annotations

from hypothesis import given, settings
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource as PB2Resource
from opentelemetry.sdk.resources import Resource

from sv_otel import Event, TranslationStats, encode_logs, events_to_logs, logs_to_events
from sv_otel.ids import session_trace_id
from tests.strategies import BATCHES

SESSION = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
EVENT = Event(
    event="purchase_completed",
    timestamp=1709856000000,
    properties={
        "amount": 49.99,
        "item_count": 3,
        "gift": False,
        "coupon": None,
        "$current_url": "https://example.com/checkout",
        "$browser": "Chrome",
        "$os": "macOS",
        "$device_type": "desktop",
        "cart": {"items": ["a", 1], "url.full": "custom"},
        "url.full": "custom collides",
        "session.id": "spoof",
    },
    anonymous_id="550e8400-e29b-41d4-a716-446655440000",
    user_id="user_456",
    session_id=SESSION,
)


def _kv(key: str, value: AnyValue) -> KeyValue:
    return KeyValue(key=key, value=value)


def test_event_becomes_the_expected_log_record() -> None:
    request = events_to_logs([EVENT], observed_time_unix_nano=42)
    expected = ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(
                resource=PB2Resource(
                    attributes=[_kv("service.name", AnyValue(string_value="sessionvision"))]
                ),
                scope_logs=[
                    ScopeLogs(
                        scope=InstrumentationScope(name="sessionvision"),
                        log_records=[
                            LogRecord(
                                time_unix_nano=1709856000000 * 10**6,
                                observed_time_unix_nano=42,
                                event_name="purchase_completed",
                                trace_id=bytes.fromhex("a1b2c3d4e5f647118899aabbccddeeff"),
                                attributes=[
                                    _kv("session.id", AnyValue(string_value=SESSION)),
                                    _kv("user.id", AnyValue(string_value="user_456")),
                                    _kv(
                                        "enduser.pseudo.id",
                                        AnyValue(
                                            string_value="550e8400-e29b-41d4-a716-446655440000"
                                        ),
                                    ),
                                    _kv("amount", AnyValue(double_value=49.99)),
                                    _kv("item_count", AnyValue(int_value=3)),
                                    _kv("gift", AnyValue(bool_value=False)),
                                    _kv("coupon", AnyValue()),
                                    _kv(
                                        "url.full",
                                        AnyValue(string_value="https://example.com/checkout"),
                                    ),
                                    _kv("user_agent.name", AnyValue(string_value="Chrome")),
                                    _kv("user_agent.os.name", AnyValue(string_value="macOS")),
                                    _kv(
                                        "sessionvision.device_type",
                                        AnyValue(string_value="desktop"),
                                    ),
                                    _kv(
                                        "cart",
                                        AnyValue(
                                            kvlist_value=KeyValueList(
                                                values=[
                                                    _kv(
                                                        "items",
                                                        AnyValue(
                                                            array_value=ArrayValue(
                                                                values=[
                                                                    AnyValue(string_value="a"),
                                                                    AnyValue(int_value=1),
                                                                ]
                                                            )
                                                        ),
                                                    ),
                                                    _kv(
                                                        "url.full", AnyValue(string_value="custom")
                                                    ),
                                                ]
                                            )
                                        ),
                                    ),
                                    _kv(
                                        "sessionvision.property.url.full",
                                        AnyValue(string_value="custom collides"),
                                    ),
                                    _kv(
                                        "sessionvision.property.session.id",
                                        AnyValue(string_value="spoof"),
                                    ),
                                ],
                            )
                        ],
                    )
                ],
            )
        ]
    )
    assert request == expected
    # presence of the oneof members, which == on messages also compares
    attributes = request.resource_logs[0].scope_logs[0].log_records[0].attributes
    assert attributes[5].value.WhichOneof("value") == "bool_value"
    assert attributes[6].value.WhichOneof("value") is None


def test_resource_can_be_an_sdk_resource_or_a_mapping() -> None:
    sdk = Resource.create({"service.name": "web", "deployment.environment.name": "prod"})
    for resource in (sdk, {"service.name": "web", "deployment.environment.name": "prod"}):
        attributes = events_to_logs([EVENT], resource=resource).resource_logs[0].resource.attributes
        values = {kv.key: kv.value.string_value for kv in attributes}
        assert values["service.name"] == "web"
        assert values["deployment.environment.name"] == "prod"


def test_log_records_carry_the_session_trace_id() -> None:
    other = Event(event="x", timestamp=1, session_id="not-a-uuid")
    records = events_to_logs([EVENT, other]).resource_logs[0].scope_logs[0].log_records
    assert records[0].trace_id.hex() == "a1b2c3d4e5f647118899aabbccddeeff"
    assert records[1].trace_id == session_trace_id("not-a-uuid")


def test_round_trip_of_the_example() -> None:
    assert logs_to_events(events_to_logs([EVENT])) == [EVENT]


def test_encode_logs_is_the_serialised_request() -> None:
    request = ExportLogsServiceRequest.FromString(encode_logs([EVENT], observed_time_unix_nano=7))
    assert request == events_to_logs([EVENT], observed_time_unix_nano=7)


def test_empty_batch() -> None:
    request = events_to_logs([])
    assert len(request.resource_logs[0].scope_logs[0].log_records) == 0
    assert logs_to_events(request) == []
    assert logs_to_events(ExportLogsServiceRequest()) == []


@settings(max_examples=300, deadline=None)
@given(BATCHES)
def test_round_trip_is_lossless(events: list[Event]) -> None:
    request = events_to_logs(events)
    stats = TranslationStats()
    assert logs_to_events(request, stats=stats) == events
    assert logs_to_events(request.SerializeToString()) == events
    assert stats.converted == len(events)
    # Every value keeps its JSON type: compare types as well as values, recursively.
    for back, original in zip(logs_to_events(request), events, strict=True):
        assert _typed(back.properties) == _typed(original.properties)


def _typed(value: object) -> object:
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)
