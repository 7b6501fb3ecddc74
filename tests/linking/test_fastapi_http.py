"""A FastAPI app with OpenTelemetry's FastAPI instrumentation, called over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import httpx
import pytest

from tests.linking._apps import (
    CARRIERS,
    FASTAPI_LOGS,
    FASTAPI_SPANS,
    SESSION,
    Carrier,
    Received,
    Telemetry,
    downstream_app,
    fastapi_app,
    global_propagator,
    linking_attributes,
)
from tests.servers import serve_asgi


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    telemetry = Telemetry("checkout")
    yield telemetry
    telemetry.close()


def call(telemetry: Telemetry, headers: Mapping[str, str] | Mapping[bytes, bytes]) -> None:
    with global_propagator(), serve_asgi(fastapi_app(telemetry)) as url:
        response = httpx.get(f"{url}/work", headers=headers)
        assert response.status_code == 200, response.text
        telemetry.wait_for(FASTAPI_SPANS, FASTAPI_LOGS | {"background log"})


@pytest.mark.parametrize("carrier", CARRIERS, ids=lambda carrier: carrier.name)
def test_every_span_and_log_record_carries_the_session(
    carrier: Carrier, telemetry: Telemetry
) -> None:
    call(telemetry, carrier.headers)

    spans = telemetry.spans()
    assert {span.name for span in spans} >= FASTAPI_SPANS
    for span in spans:
        assert linking_attributes(span.attributes) == carrier.expected, span.name
    logs = telemetry.logs()
    assert {str(log.log_record.body) for log in logs} >= FASTAPI_LOGS
    for log in logs:
        assert linking_attributes(log.log_record.attributes) == carrier.expected, log


def test_a_request_without_a_session_gets_no_session_attributes(telemetry: Telemetry) -> None:
    call(telemetry, {})

    assert all(linking_attributes(span.attributes) == {} for span in telemetry.spans())
    assert all(linking_attributes(log.log_record.attributes) == {} for log in telemetry.logs())


def test_the_authenticated_user_is_bound_from_then_on_and_on_the_root_span(
    telemetry: Telemetry,
) -> None:
    call(telemetry, {"X-Sessionvision-Session-Id": SESSION, "Authorization": "Bearer u-9"})

    assert dict(telemetry.span("GET /work").attributes or {})["user.id"] == "u-9"
    assert dict(telemetry.span("background").attributes or {})["user.id"] == "u-9"
    assert "user.id" not in dict(telemetry.span("child").attributes or {})  # before the bind
    (background_log,) = [log for log in telemetry.logs() if log.log_record.body == "background log"]
    assert linking_attributes(background_log.log_record.attributes) == {
        "session.id": SESSION,
        "user.id": "u-9",
    }


def test_two_hops_through_httpx_carry_the_session_in_baggage(telemetry: Telemetry) -> None:
    downstream = Telemetry("inventory")
    received = Received(baggage=[])
    try:
        with (
            global_propagator(),
            serve_asgi(downstream_app(downstream, received)) as down,
            serve_asgi(fastapi_app(telemetry, downstream=f"{down}/stock")) as url,
        ):
            response = httpx.get(
                f"{url}/work",
                headers={
                    "X-Sessionvision-Session-Id": SESSION,
                    "baggage": "vendor=keep,session.id=stale",
                },
            )
            downstream.wait_for({"GET /stock", "downstream child"}, {"downstream handler"})
            telemetry.wait_for(FASTAPI_SPANS, FASTAPI_LOGS)
        assert response.json() == {"downstream": {"session_id": SESSION}}
        ((header,),) = received.baggage
        entries = header.split(",")
        assert entries.count(f"session.id={SESSION}") == 1
        assert [entry for entry in entries if entry.startswith("session.id")] == [
            f"session.id={SESSION}"
        ]
        assert "vendor=keep" in entries
        for span in downstream.spans():
            assert span.attributes is not None
            assert span.attributes["session.id"] == SESSION, span.name
        for log in downstream.logs():
            assert log.log_record.attributes is not None
            assert log.log_record.attributes["session.id"] == SESSION
    finally:
        downstream.close()


HOSTILE = [
    pytest.param({"X-Sessionvision-Session-Id": "s" * 10_000}, {}, id="10KB-value"),
    pytest.param(
        {"X-Sessionvision-Session-Id": "s" * 10_000, "X-POSTHOG-SESSION-ID": "ph-1"},
        {"session.id": "ph-1"},
        id="10KB-value-falls-back-to-the-next-carrier",
    ),
    pytest.param(
        {b"X-Sessionvision-Session-Id": "sess\u00e9".encode("latin-1")}, {}, id="non-ascii"
    ),
    pytest.param(
        {"baggage": ",".join(f"k{i}=v" for i in range(190)) + ",session.id=late"},
        {},
        id="200-baggage-entries-past-the-limit",
    ),
    pytest.param({"baggage": "session.id,=,;;;,==x,session.id==;"}, {}, id="malformed-baggage"),
    pytest.param(
        {
            "X-Sessionvision-Session-Id": "from-header",
            "baggage": "session.id=from-baggage",
            "X-POSTHOG-SESSION-ID": "from-posthog",
        },
        {"session.id": "from-header"},
        id="conflicting-carriers",
    ),
    pytest.param(
        {"baggage": "http.route=/evil,db.statement=DROP%20TABLE,session.id=s-1,enduser.id=root"},
        {"session.id": "s-1"},
        id="baggage-keys-are-not-attributes",
    ),
]


@pytest.mark.parametrize(("headers", "expected"), HOSTILE)
def test_hostile_carriers_are_served_and_stamp_nothing_unexpected(
    headers: Mapping[str, str] | Mapping[bytes, bytes],
    expected: dict[str, str],
    telemetry: Telemetry,
) -> None:
    call(telemetry, headers)

    server = telemetry.span("GET /work")
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/work"
    assert "db.statement" not in server.attributes
    assert "enduser.id" not in server.attributes
    for span in telemetry.spans():
        assert linking_attributes(span.attributes) == expected, span.name
    for log in telemetry.logs():
        assert linking_attributes(log.log_record.attributes) == expected
