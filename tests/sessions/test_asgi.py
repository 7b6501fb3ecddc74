"""``POST /api/v1/sessions/start`` over real HTTP (uvicorn on loopback), with a real processor."""

from __future__ import annotations

import gzip
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from sv_otel import Event
from sv_otel.errors import QueueFullError
from sv_otel.sessions import (
    SessionConfig,
    SessionLifecycleProcessor,
    SessionStarter,
    session_token_verifier,
    sign_session_token,
    start_app,
)
from tests.sessions._helpers import attributes, log_record
from tests.sessions._server import serve

SECRET = b"0123456789abcdef0123456789abcdef"
SHOP = "https://shop.example.com"
PAY = "https://pay.example.net"
PATH = "/api/v1/sessions/start"
USER_UUID = "550e8400-e29b-41d4-a716-446655440000"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    @property
    def ms(self) -> int:
        return int(self.now * 1000)


@dataclass
class Pipeline:
    """What the gateway does with submitted events: the processor, then (here) a list."""

    processor: SessionLifecycleProcessor
    clock: Clock
    out: list[Event] = field(default_factory=list)
    full: bool = False

    async def submit(self, events: Sequence[Event]) -> None:
        if self.full:
            raise QueueFullError("queue full: retry later", retry_after=2.5)
        self.out.extend(self.processor.process(events, self.clock.ms))


@dataclass
class Gateway:
    client: httpx.Client
    clock: Clock
    pipeline: Pipeline

    def start(self, origin: str = SHOP, **fields: Any) -> dict[str, Any]:
        response = self.client.post(PATH, json=fields, headers={"Origin": origin})
        assert response.status_code == 200, response.text
        assert response.headers["access-control-allow-origin"] == origin
        body: dict[str, Any] = response.json()
        assert body["success"] is True
        return body


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    clock = Clock()
    processor = SessionLifecycleProcessor(tmp_path, SessionConfig(inactivity_timeout=1800))
    pipeline = Pipeline(processor, clock)
    starter = SessionStarter(
        secret=SECRET, ttl_seconds=3600, has_ended=processor.has_ended, clock=clock
    )
    app = start_app(starter, pipeline.submit, allow_origins=[SHOP, PAY])
    with serve(app) as url, httpx.Client(base_url=url, timeout=10) as client:
        yield Gateway(client, clock, pipeline)
    processor.close()


def test_a_page_refresh_keeps_the_session(gateway: Gateway) -> None:
    first = gateway.start(userID="jane@example.com", metadata={"plan": "pro"}, userUUID=USER_UUID)
    verify = session_token_verifier(SECRET, clock=gateway.clock)
    assert verify(first["sessionToken"]) == first["sessionID"]
    assert first["userUUID"] == USER_UUID
    gateway.clock.now += 60
    again = gateway.start(sessionToken=first["sessionToken"], userUUID=USER_UUID)
    assert again == first
    out = gateway.pipeline.out
    assert [e.event for e in out] == ["session.start", "$start", "$start"]
    assert attributes(log_record(out[0])) == {
        "session.id": first["sessionID"],
        "user.id": "jane@example.com",
        "enduser.pseudo.id": USER_UUID,
        "plan": "pro",
    }


def test_force_new_starts_a_new_session_linked_to_the_previous_one(gateway: Gateway) -> None:
    first = gateway.start(userUUID=USER_UUID)
    forced = gateway.start(sessionToken=first["sessionToken"], userUUID=USER_UUID, forceNew=True)
    assert forced["sessionID"] != first["sessionID"]
    starts = [e for e in gateway.pipeline.out if e.event == "session.start"]
    assert [s.session_id for s in starts] == [first["sessionID"], forced["sessionID"]]
    assert starts[1].properties == {"session.previous_id": first["sessionID"]}


def test_a_session_hash_continues_the_session_across_two_origins(gateway: Gateway) -> None:
    shop = gateway.start(SHOP, userUUID=USER_UUID)
    pay = gateway.start(PAY, sessionHash=f"2&{shop['sessionToken']}")
    assert pay["sessionID"] == shop["sessionID"]
    assert pay["sessionToken"] == shop["sessionToken"]
    elsewhere = gateway.start(PAY)  # no hash: the other site gets its own session
    assert elsewhere["sessionID"] != shop["sessionID"]
    continued = [e.properties["$continued"] for e in gateway.pipeline.out if e.event == "$start"]
    assert continued == [False, True, False]


def test_a_refresh_after_the_session_ended_starts_a_new_one(gateway: Gateway) -> None:
    first = gateway.start(userUUID=USER_UUID)
    gateway.clock.now += 31 * 60
    [end] = gateway.pipeline.processor.poll(gateway.clock.ms)
    assert (end.event, end.properties["$session.end_reason"]) == ("session.end", "timeout")
    again = gateway.start(sessionToken=first["sessionToken"], userUUID=USER_UUID)
    assert again["sessionID"] != first["sessionID"]
    start = gateway.pipeline.out[-2]
    assert (start.event, start.properties) == (
        "session.start", {"session.previous_id": first["sessionID"]},
    )  # fmt: skip


def test_an_expired_token_starts_a_new_session(gateway: Gateway) -> None:
    first = gateway.start()
    gateway.clock.now += 3600
    assert gateway.start(sessionToken=first["sessionToken"])["sessionID"] != first["sessionID"]


def test_cors_preflight_allows_the_configured_origins_only(gateway: Gateway) -> None:
    asks = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    allowed = gateway.client.options(PATH, headers={"Origin": PAY, **asks})
    assert allowed.status_code == 204
    assert allowed.headers["access-control-allow-origin"] == PAY
    assert allowed.headers["access-control-allow-methods"] == "POST, OPTIONS"
    denied = gateway.client.options(PATH, headers={"Origin": "https://evil.example", **asks})
    assert denied.status_code == 403
    assert denied.json() == {
        "success": False,
        "reason": "preflight: Origin: 'https://evil.example' is not an allowed origin",
    }
    odd = gateway.client.options(
        PATH, headers={"Origin": PAY, "Access-Control-Request-Method": "PUT"}
    )
    assert odd.status_code == 403
    assert odd.json()["reason"] == (
        "preflight: Access-Control-Request-Method: 'PUT' is not allowed; use POST"
    )


def test_a_start_from_an_origin_not_allowed_is_refused(gateway: Gateway) -> None:
    response = gateway.client.post(PATH, json={}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert response.json() == {
        "success": False,
        "reason": "Origin: 'https://evil.example' is not an allowed origin",
    }
    assert gateway.pipeline.out == []


def test_a_full_queue_answers_503_with_retry_after(gateway: Gateway) -> None:
    gateway.pipeline.full = True
    response = gateway.client.post(PATH, json={})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    assert response.json() == {"success": False, "reason": "queue full: retry later"}


FORGED = sign_session_token("s", secret=b"not the gateway's secret........", ttl_seconds=60)
BOMB = gzip.compress(b'{"metadata": {"a": "' + b"x" * 100_000 + b'"}}')


@pytest.mark.parametrize(
    ("body", "headers", "status", "reason"),
    [
        (b"{", {}, 400, "body: not JSON (Input data was truncated)"),
        (b"\xff", {}, 400, "body: not JSON (invalid character (byte 0))"),
        (b"[]", {}, 400, "body: expected a JSON object, got an array"),
        (b'"start"', {}, 400, "body: expected a JSON object, got a string"),
        (b'{"userID": 5}', {}, 400, "userID: expected a string, got a number"),
        (b'{"userID": "' + b"u" * 257 + b'"}', {}, 400, "userID: longer than 256 characters"),
        (b'{"metadata": []}', {}, 400, "metadata: expected an object, got an array"),
        (b'{"metadata": {"plan": 3}}', {}, 400, "metadata.plan: expected a string, got a number"),
        (b'{"metadata": {"plan": null}}', {}, 400, "metadata.plan: expected a string, got null"),
        (msgspec.json.encode({"metadata": {f"k{i}": "v" for i in range(51)}}), {}, 400,
         "metadata: 51 entries, over the limit of 50"),
        (b'{"metadata": {"$set": "x"}}', {}, 400,
         "metadata: key '$set' must be 1 to 128 characters and not start with $"),
        (b'{"metadata": {"": "x"}}', {}, 400,
         "metadata: key '' must be 1 to 128 characters and not start with $"),
        (b'{"metadata": {"plan": "' + b"p" * 1025 + b'"}}', {}, 400,
         "metadata.plan: longer than 1024 characters"),
        (b'{"forceNew": "yes"}', {}, 400, "forceNew: expected a boolean, got a string"),
        (b'{"sessionHash": 5}', {}, 400, "sessionHash: expected a string, got a number"),
        (b'{"sessionToken": {}}', {}, 400, "sessionToken: expected a string, got an object"),
        (b'{"userUUID": "not-a-uuid"}', {}, 400, "userUUID: expected a UUID"),
        (b'{"sessionHash": "abc"}', {}, 401, "sessionHash: not a session token"),
        (msgspec.json.encode({"sessionHash": FORGED}), {}, 401,
         "sessionHash: invalid signature"),
        (b"{}" + b" " * 70_000, {}, 413, "body: over the limit of 65536 bytes"),
        (BOMB, {"Content-Encoding": "gzip"}, 413,
         "body: decompresses to more than the limit of 65536 bytes"),
        (gzip.compress(b"{}")[:-6], {"Content-Encoding": "gzip"}, 400,
         "body: truncated gzip stream"),
        (b"{}", {"Content-Encoding": "br"}, 415,
         "Content-Encoding: unsupported encoding 'br'; use gzip or identity"),
    ],
    ids=[
        "truncated", "not-utf8", "array", "string", "user-id-type", "user-id-long",
        "metadata-type", "metadata-value-type", "metadata-null", "metadata-many",
        "metadata-dollar-key", "metadata-empty-key", "metadata-long", "force-new-type",
        "hash-type", "token-type", "user-uuid", "hash-malformed", "hash-forged", "too-large",
        "gzip-bomb", "gzip-truncated", "encoding",
    ],
)  # fmt: skip
def test_every_bad_request_gets_its_status_and_reason(
    gateway: Gateway, body: bytes, headers: dict[str, str], status: int, reason: str
) -> None:
    response = gateway.client.post(PATH, content=body, headers=headers)
    assert response.status_code == status
    assert response.json() == {"success": False, "reason": reason}
    assert gateway.pipeline.out == []
    # The server keeps serving.
    assert gateway.client.post(PATH, json={}).json()["success"] is True


def test_an_oversized_chunked_body_stops_at_the_limit(gateway: Gateway) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"metadata": {"a": "'
        for _ in range(100):
            yield b"x" * 1024

    response = gateway.client.post(PATH, content=chunks())
    assert response.status_code == 413
    assert response.json() == {"success": False, "reason": "body: over the limit of 65536 bytes"}


def test_only_post_is_allowed(gateway: Gateway) -> None:
    response = gateway.client.get(PATH, headers={"Origin": SHOP})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST, OPTIONS"
    assert response.headers["access-control-allow-origin"] == SHOP
    assert response.json() == {"success": False, "reason": "GET: use POST"}


def test_a_pipeline_error_is_answered_with_its_status_and_message(gateway: Gateway) -> None:
    gateway.pipeline.processor.shutdown(gateway.clock.ms)
    response = gateway.client.post(PATH, json={})
    assert response.status_code == 500
    assert "retry-after" not in response.headers
    assert response.json() == {"success": False, "reason": "the session processor is shut down"}


def test_a_slow_body_gets_408_and_the_connection_is_closed(tmp_path: Path) -> None:
    processor = SessionLifecycleProcessor(tmp_path, SessionConfig(inactivity_timeout=1800))
    starter = SessionStarter(secret=SECRET, has_ended=processor.has_ended)
    app = start_app(starter, allow_origins=[SHOP], body_timeout=0.5)
    try:
        with serve(app) as url:
            port = int(url.rsplit(":", 1)[1])
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(
                    b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{" % PATH.encode()
                )
                started = time.monotonic()
                data = b""
                while chunk := sock.recv(65536):  # until the server closes
                    data += chunk
                waited = time.monotonic() - started
            after = httpx.post(f"{url}{PATH}", json={}, timeout=10)
    finally:
        processor.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert msgspec.json.decode(body) == {
        "success": False,
        "reason": "body: not received within 0.5 seconds",
    }
    assert 0.3 < waited < 5
    assert after.status_code == 200 and after.json()["success"] is True
