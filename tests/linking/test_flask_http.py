"""A Flask app with OpenTelemetry's Flask instrumentation, called over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.linking._apps import (
    CARRIERS,
    FLASK_LOGS,
    FLASK_SPANS,
    SESSION,
    Carrier,
    Received,
    Telemetry,
    downstream_app,
    flask_app,
    global_propagator,
    instrumented_requests,
    linking_attributes,
)
from tests.servers import serve_asgi, serve_wsgi


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    telemetry = Telemetry("storefront")
    yield telemetry
    telemetry.close()


def call(telemetry: Telemetry, headers: dict[str, str]) -> None:
    with global_propagator(), serve_wsgi(flask_app(telemetry)) as url:
        response = httpx.get(f"{url}/work", headers=headers)
        assert response.status_code == 200, response.text
        telemetry.wait_for(FLASK_SPANS, FLASK_LOGS)


@pytest.mark.parametrize("carrier", CARRIERS, ids=lambda carrier: carrier.name)
def test_every_span_and_log_record_carries_the_session(
    carrier: Carrier, telemetry: Telemetry
) -> None:
    call(telemetry, carrier.headers)

    spans = telemetry.spans()
    assert {span.name for span in spans} >= FLASK_SPANS
    for span in spans:
        assert linking_attributes(span.attributes) == carrier.expected, span.name
    logs = telemetry.logs()
    assert {str(log.log_record.body) for log in logs} >= FLASK_LOGS
    for log in logs:
        assert linking_attributes(log.log_record.attributes) == carrier.expected, log


def test_the_authenticated_user_reaches_the_root_span(telemetry: Telemetry) -> None:
    call(telemetry, {"X-Sessionvision-Session-Id": SESSION, "Authorization": "Bearer u-7"})

    root = telemetry.span("GET /work")
    assert linking_attributes(root.attributes) == {"session.id": SESSION, "user.id": "u-7"}
    assert linking_attributes(telemetry.span("thread").attributes) == {"session.id": SESSION}


def test_two_hops_through_requests_carry_the_session_in_baggage(telemetry: Telemetry) -> None:
    downstream = Telemetry("inventory")
    received = Received(baggage=[])
    try:
        with (
            global_propagator(),
            instrumented_requests(telemetry),
            serve_asgi(downstream_app(downstream, received)) as down,
            serve_wsgi(flask_app(telemetry, downstream=f"{down}/stock")) as url,
        ):
            response = httpx.get(
                f"{url}/work",
                headers={"X-POSTHOG-SESSION-ID": SESSION, "baggage": "vendor=keep"},
            )
            downstream.wait_for({"GET /stock", "downstream child"}, {"downstream handler"})
            telemetry.wait_for(FLASK_SPANS | {"GET"}, FLASK_LOGS)
        assert response.json() == {"downstream": {"session_id": SESSION}}
        ((header,),) = received.baggage
        assert sorted(header.split(",")) == [f"session.id={SESSION}", "vendor=keep"]
        client_span = telemetry.span("GET")
        assert linking_attributes(client_span.attributes) == {"session.id": SESSION}
        for span in downstream.spans():
            assert linking_attributes(span.attributes) == {"session.id": SESSION}, span.name
        for log in downstream.logs():
            assert linking_attributes(log.log_record.attributes) == {"session.id": SESSION}
    finally:
        downstream.close()
