"""The ingest endpoint's contract, request by request: every bad input gets its status and message.

The table runs against the real ASGI app with a real durable queue behind it (in process,
through ``httpx.ASGITransport``); ``test_server`` runs the hostile cases against a real server.
"""

from __future__ import annotations

import gzip
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from sv_otel.ingest.app import INGEST_PATH, create_ingest_app
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.ingest.endpoint import IngestEndpoint
from sv_otel.ingest.settings import IngestSettings
from sv_otel.limits import Limits
from sv_otel.queue import DurableQueue, decode_events
from sv_otel.server.config import PipelineConfig
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.server.pipeline import Pipeline, ReceiverSink
from tests.helpers import event_json

pytestmark = pytest.mark.anyio

URL = "http://gateway.test" + INGEST_PATH
JSON = {"content-type": "application/json"}
TOKEN = "sv_pub_secret"
GOOD = msgspec.json.encode([event_json()])


@asynccontextmanager
async def client(
    tmp_path: Path, max_queue: int = 1 << 20, **settings: Any
) -> AsyncIterator[tuple[httpx.AsyncClient, DurableQueue, IngestEndpoint]]:
    queue = await DurableQueue.open(
        tmp_path / "q.db", max_bytes=max_queue, consumers=[("logs", "test")]
    )
    sink = ReceiverSink([Pipeline(PipelineConfig("logs", "logs", (), (), ()), [])], queue)
    app = create_ingest_app(sink, IngestSettings(**settings), GatewayMetrics())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport) as http:
        yield http, queue, app.endpoint
    await queue.close()


async def queued(queue: DurableQueue) -> list[str]:
    return [e.event for e in decode_events(await queue.read("logs", "test", max_events=10**6))]


# (name, request kwargs, settings, status, error name, message)
TABLE: list[tuple[str, dict[str, Any], dict[str, Any], int, str, str]] = [
    (
        "malformed JSON",
        {"content": b'[{"event": ', "headers": JSON},
        {},
        400,
        "bad_request",
        "body: not JSON (Input data was truncated)",
    ),
    (
        "invalid UTF-8",
        {"content": b'[{"event": "\xff"}]', "headers": JSON},
        {},
        400,
        "bad_request",
        "body: invalid UTF-8 at byte 12",
    ),
    (
        "not an event list",
        {"content": b'"hello"', "headers": JSON},
        {},
        400,
        "bad_request",
        'body: expected a JSON array of events or an object with "events", got a string',
    ),
    (
        "empty body",
        {"content": b"", "headers": JSON},
        {},
        400,
        "bad_request",
        "body: empty",
    ),
    (
        "corrupt gzip",
        {"content": b"\x1f\x8b\x08\x00garbage", "headers": JSON},
        {},
        400,
        "bad_request",
        "body: truncated gzip stream",
    ),
    (
        "wrong content type",
        {"content": GOOD, "headers": {"content-type": "application/xml"}},
        {},
        415,
        "unsupported_media_type",
        "Content-Type: 'application/xml' is not supported; send application/json or text/plain",
    ),
    (
        "unknown content encoding",
        {"content": GOOD, "headers": {**JSON, "content-encoding": "br"}},
        {},
        415,
        "unsupported_encoding",
        "Content-Encoding: unsupported encoding 'br'; use gzip or identity",
    ),
    (
        "missing token",
        {"content": GOOD, "headers": JSON},
        {"tokens": (TOKEN,)},
        401,
        "unauthenticated",
        "missing project token: send Authorization: Bearer <token>, "
        'X-Sessionvision-Token: <token>, or the body\'s "token"',
    ),
    (
        "wrong bearer token",
        {"content": GOOD, "headers": {**JSON, "authorization": "Bearer nope"}},
        {"tokens": (TOKEN,)},
        403,
        "forbidden",
        "project token is not valid for this endpoint",
    ),
    (
        "wrong body token",
        {"content": b'{"events": [], "token": "nope"}', "headers": JSON},
        {"tokens": (TOKEN,)},
        403,
        "forbidden",
        "project token is not valid for this endpoint",
    ),
    (
        "oversized body (Content-Length)",
        {"content": b"[" + b" " * 2000 + b"]", "headers": JSON},
        {"max_request_bytes": 1000},
        413,
        "payload_too_large",
        "body: Content-Length 2002 is over the limit of 1000 bytes",
    ),
    (
        "gzip bomb",
        {
            "content": gzip.compress(b"[" + b" " * 5_000_000 + b"]"),
            "headers": {**JSON, "content-encoding": "gzip"},
        },
        {"limits": Limits(max_body_bytes=1_000_000)},
        413,
        "payload_too_large",
        "body: decompresses to more than the limit of 1000000 bytes",
    ),
    (
        "too many events",
        {"content": msgspec.json.encode([event_json()] * 3), "headers": JSON},
        {"limits": Limits(max_events=2)},
        413,
        "payload_too_large",
        "body: 3 events, over the limit of 2 per batch",
    ),
    (
        "every event has wrong types",
        {"content": b'[{"event": "a", "timestamp": "x", "sessionId": "s"}]', "headers": JSON},
        {},
        400,
        "bad_request",
        "every event was rejected (1); first: events[0].timestamp: expected integer epoch "
        'milliseconds, got "x"',
    ),
    (
        "GET",
        {"method": "GET"},
        {},
        405,
        "method_not_allowed",
        "GET: use POST",
    ),
    (
        "disallowed origin",
        {"content": GOOD, "headers": {**JSON, "origin": "https://evil.example"}},
        {"cors": CorsPolicy(("https://shop.example",))},
        403,
        "forbidden",
        "Origin: 'https://evil.example' is not an allowed origin",
    ),
    (
        "queue full",
        {
            "content": msgspec.json.encode([event_json(properties={"x": "y" * 500})]),
            "headers": JSON,
        },
        {"max_queue": 100},
        503,
        "queue_full",
        "queue: full (0 of 100 bytes waiting for export); retry later",
    ),
    (
        "overloaded",
        {"content": GOOD, "headers": JSON},
        {"max_concurrent_requests": 1, "in_flight": 1},
        503,
        "overloaded",
        "server: too many requests in flight; retry later",
    ),
]


@pytest.mark.parametrize(
    ("request_kwargs", "settings", "status", "error", "message"),
    [case[1:] for case in TABLE],
    ids=[case[0] for case in TABLE],
)
async def test_bad_input_gets_its_status_and_message(
    tmp_path: Path,
    request_kwargs: dict[str, Any],
    settings: dict[str, Any],
    status: int,
    error: str,
    message: str,
) -> None:
    settings = dict(settings)
    max_queue = settings.pop("max_queue", 1 << 20)
    in_flight = settings.pop("in_flight", 0)
    async with client(tmp_path, max_queue, **settings) as (http, queue, endpoint):
        endpoint.in_flight = in_flight
        kwargs = {"method": "POST", **request_kwargs}
        response = await http.request(url=URL, **kwargs)
        assert await queued(queue) == []
    assert response.status_code == status
    answer = response.json()
    assert {key: answer[key] for key in ("status", "error", "message")} == {
        "status": status,
        "error": error,
        "message": message,
    }
    assert response.headers["content-type"] == "application/json"
    if status == 503:
        assert response.headers["retry-after"] == "1"


async def test_mixed_batch_keeps_valid_events_and_lists_the_rejected(tmp_path: Path) -> None:
    body = msgspec.json.encode(
        [event_json(event="a"), {"event": "b"}, event_json(event="c", userId=5)]
    )
    async with client(tmp_path) as (http, queue, _):
        response = await http.post(URL, content=body, headers=JSON)
        assert await queued(queue) == ["a"]
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 1,
        "rejected": 2,
        "errors": [
            {
                "index": 1,
                "message": "events[1].timestamp: expected integer epoch milliseconds, "
                "got nothing (the field is missing)",
            },
            {"index": 2, "message": "events[2].userId: expected a string or null, got 5"},
        ],
    }


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ({"authorization": f"Bearer {TOKEN}"}, GOOD),
        ({"x-sessionvision-token": TOKEN}, GOOD),
        ({}, msgspec.json.encode({"events": [event_json()], "token": TOKEN})),
    ],
    ids=["bearer", "token header", "body token"],
)
async def test_a_configured_token_is_accepted_from_each_place(
    tmp_path: Path, headers: dict[str, str], body: bytes
) -> None:
    async with client(tmp_path, tokens=(TOKEN,)) as (http, queue, _):
        response = await http.post(URL, content=body, headers={**JSON, **headers})
        assert await queued(queue) == ["purchase_completed"]
    assert response.status_code == 200


async def test_beacon_text_plain_gzip_by_magic_bytes_is_accepted(tmp_path: Path) -> None:
    async with client(tmp_path) as (http, queue, _):
        response = await http.post(
            URL,
            content=gzip.compress(GOOD),
            headers={"content-type": "text/plain;charset=UTF-8", "origin": "https://a.example"},
        )
        assert await queued(queue) == ["purchase_completed"]
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://a.example"
    assert response.headers["access-control-expose-headers"] == "Retry-After"


async def test_empty_batch_is_ok(tmp_path: Path) -> None:
    async with client(tmp_path) as (http, queue, _):
        response = await http.post(URL, content=b"[]", headers=JSON)
        assert await queued(queue) == []
    assert response.json() == {"accepted": 0, "rejected": 0, "errors": []}


async def test_preflight_allows_the_sdk_headers(tmp_path: Path) -> None:
    cors = CorsPolicy.create(["https://*.shop.example"], ["X-Sessionvision-Token"], 600)
    async with client(tmp_path, cors=cors) as (http, _, _):
        response = await http.options(
            URL,
            headers={
                "origin": "https://www.shop.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,content-encoding,authorization",
            },
        )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "https://www.shop.example"
    assert response.headers["access-control-allow-headers"] == (
        "Content-Type, Content-Encoding, Authorization, X-Sessionvision-Token"
    )
    assert response.headers["access-control-max-age"] == "600"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (
            {"origin": "https://evil.example", "access-control-request-method": "POST"},
            "preflight: Origin: 'https://evil.example' is not an allowed origin",
        ),
        (
            {"origin": "https://shop.example", "access-control-request-method": "DELETE"},
            "preflight: Access-Control-Request-Method: 'DELETE' is not allowed; use POST",
        ),
        (
            {
                "origin": "https://shop.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type, x-secret",
            },
            "preflight: Access-Control-Request-Headers: 'x-secret' is not an allowed header",
        ),
    ],
    ids=["origin", "method", "header"],
)
async def test_preflight_refusals_name_the_problem(
    tmp_path: Path, headers: dict[str, str], message: str
) -> None:
    async with client(tmp_path, cors=CorsPolicy(("https://shop.example",))) as (http, _, _):
        response = await http.options(URL, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"status": 403, "error": "forbidden", "message": message}


async def test_every_event_rejected_lists_each_error(tmp_path: Path) -> None:
    body = b'[{"event": "a", "timestamp": "x", "sessionId": "s"}, {"event": ""}]'
    async with client(tmp_path) as (http, _, _):
        response = await http.post(URL, content=body, headers=JSON)
    assert response.status_code == 400
    assert response.json()["accepted"] == 0
    assert response.json()["rejected"] == 2
    assert [e["index"] for e in response.json()["errors"]] == [0, 1]
