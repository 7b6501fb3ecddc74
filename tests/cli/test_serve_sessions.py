"""``sv-otel serve`` with sessions: the flags, and real serve processes end to end.

The end-to-end tests run ``python -m sv_otel.cli serve`` as child processes exporting over
OTLP/gRPC to a real sink, post browser batches and start calls over HTTP, stop, crash and
restart them, then read the data directory with ``sv-otel sessions list`` / ``show``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from sv_otel.cli.main import build_parser
from sv_otel.cli.serve import apply_flags
from sv_otel.errors import ConfigurationError
from sv_otel.server.config import default_config, load_config
from sv_otel.server.registry import REGISTRY
from sv_otel.sessions.settings import SESSION_SECRET_ENV, StartSettings
from tests.helpers import event_json
from tests.serving import ServeProcess
from tests.sessions._helpers import attributes, highlight_validator
from tests.sinks import Recorded, grpc_sink

SECRET = "0123456789abcdef0123456789abcdef"
SHOP = "https://shop.example.com"
PAY = "https://pay.example.net"
START = "/api/v1/sessions/start"
INGEST = "/api/v1/ingest/events"
UUID = "550e8400-e29b-41d4-a716-446655440000"


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


@pytest.fixture(autouse=True)
def _no_secret_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SESSION_SECRET_ENV, raising=False)


def test_the_embedded_configuration_tracks_sessions_in_the_logs_pipeline() -> None:
    config = load_config(apply_flags(default_config(), parse()), REGISTRY)
    assert config.pipelines["logs"].processors == ("sessions",)
    assert config.pipelines["traces"].processors == ()
    settings = config.processors["sessions"].settings
    assert (settings.config.inactivity_timeout, settings.start) == (1800.0, None)


def test_session_flags_set_the_timeout_and_the_start_secret() -> None:
    args = parse("--session-timeout", "90", "--session-secret", SECRET)
    settings = load_config(apply_flags(default_config(), args), REGISTRY).processors["sessions"]
    assert settings.settings.config.inactivity_timeout == 90.0
    assert settings.settings.start == StartSettings(secret=SECRET.encode(), token_ttl=86_400)


def test_the_secret_comes_from_the_environment_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SESSION_SECRET_ENV, SECRET)
    raw = apply_flags(default_config(), parse())
    assert raw["processors"]["sessions"] == {"start": {"secret": SECRET}}
    # A configuration that disables the endpoint keeps it disabled; without sessions, the
    # variable is ignored.
    configured = default_config()
    configured["processors"]["sessions"] = {"start": {"enabled": False}}
    config = load_config(apply_flags(configured, parse()), REGISTRY)
    assert config.processors["sessions"].settings.start is None
    raw = apply_flags(default_config(), parse("--no-sessions"))
    assert raw["processors"] == {}


def test_no_sessions_takes_the_processor_out() -> None:
    config = load_config(apply_flags(default_config(), parse("--no-sessions")), REGISTRY)
    assert (dict(config.processors), config.pipelines["logs"].processors) == ({}, ())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--session-timeout", "0"], "--session-timeout: expected a number of seconds above 0, "
         "got 0"),
        (["--session-timeout", "nan"], "--session-timeout: expected a number of seconds above 0, "
         "got nan"),
        (["--no-sessions", "--session-timeout", "60"], "--session-timeout: the configuration has "
         "no sessions processor"),
        (["--session-secret", "short"], "--session-secret: 5 bytes; the session start endpoint "
         "needs a secret of at least 16 (32 random bytes are recommended)"),
        (["--no-sessions", "--session-secret", SECRET], "--session-secret: the configuration has "
         "no sessions processor"),
    ],
)  # fmt: skip
def test_bad_session_flags_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        apply_flags(default_config(), parse(*argv))
    assert raised.value.message == message


def test_a_short_secret_in_the_environment_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SESSION_SECRET_ENV, "x" * 15)
    with pytest.raises(ConfigurationError) as raised:
        apply_flags(default_config(), parse())
    assert raised.value.message.startswith(f"{SESSION_SECRET_ENV}: 15 bytes; ")


@pytest.mark.parametrize(
    ("start", "message"),
    [
        ({}, "sv-otel serve: processors.sessions.start.secret: required when the start endpoint "
         "is enabled (set it, or pass --session-secret or SV_OTEL_SESSION_SECRET; 32 random "
         "bytes are recommended)"),
        ({"secret": "${env:SV_TEST_SHORT_SECRET}"}, "sv-otel serve: processors.sessions.start."
         "secret: 5 bytes; the start endpoint needs at least 16 (set it, or pass "
         "--session-secret or SV_OTEL_SESSION_SECRET; 32 random bytes are recommended)"),
    ],
    ids=["no-secret", "short-secret"],
)  # fmt: skip
def test_serve_refuses_to_start_the_endpoint_without_a_good_secret(
    tmp_path: Path, start: dict[str, Any], message: str
) -> None:
    raw = default_config()
    raw["processors"]["sessions"] = {"start": start}
    path = tmp_path / "sv.yaml"
    path.write_text(msgspec.json.encode(raw).decode())  # JSON is YAML
    result = subprocess.run(
        [sys.executable, "-m", "sv_otel.cli", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SV_TEST_SHORT_SECRET": "short"},
    )
    assert (result.returncode, result.stderr.strip().splitlines()[-1]) == (1, message)


# End to end, through real serve processes.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until(sink: Recorded, done: Callable[[], bool], timeout: float = 30.0) -> None:
    async def wait() -> None:
        while not done():
            sink.arrived.clear()
            await sink.arrived.wait()

    await asyncio.wait_for(wait(), timeout)


def lifecycle(sink: Recorded) -> list[tuple[str, dict[str, Any]]]:
    """``(event_name, attributes)`` of the session.* log records received, in order."""
    return [
        (record.event_name, attributes(record))
        for record in sink.log_records()
        if record.event_name.startswith("session.")
    ]


def sessions_cli(*argv: str) -> list[Any]:
    """Run ``sv-otel sessions ...``; the JSON documents it printed (stderr must be empty)."""
    result = subprocess.run(
        [sys.executable, "-m", "sv_otel.cli", "sessions", *argv],
        capture_output=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, b"")
    if argv[0] == "show":
        return [msgspec.json.decode(result.stdout)]
    return [msgspec.json.decode(line) for line in result.stdout.splitlines()]


def serve_args(data: Path, sink_port: int, *extra: str) -> list[str]:
    return [
        "--export-otlp",
        f"http://127.0.0.1:{sink_port}",
        "--export-protocol",
        "grpc",
        "--data-dir",
        str(data),
        *extra,
    ]


T0 = 1709856000000


def batch(
    session: str, *names: str, anon: str = "a1", user: str | None = None, at: int = T0
) -> list[Any]:
    return [
        event_json(
            event=name, timestamp=at + n, sessionId=session, anonymousId=anon, userId=user or ...
        )
        for n, name in enumerate(names)
    ]


@pytest.mark.anyio
async def test_idle_sessions_end_and_the_next_one_links_to_the_previous(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with grpc_sink() as (sink, sink_port):
        args = serve_args(data, sink_port, "--ingest-address", "127.0.0.1:0")
        server = await ServeProcess.start(
            None, tmp_path / "unused", *args, "--session-timeout", "1"
        )
        async with httpx.AsyncClient(base_url=server.url) as client:
            sent = await client.post(INGEST, json=batch("s1", "$pageview", "$click", user="u1"))
            assert sent.status_code == 200
            await until(sink, lambda: len(lifecycle(sink)) >= 2)  # started, then idle for 1 s
            sent = await client.post(INGEST, json=batch("s2", "$pageview", user="u1"))
            assert sent.status_code == 200
            await until(sink, lambda: len(lifecycle(sink)) >= 4)
        assert await server.stop() == 0, server.log
    (start1, a), (end1, b), (start2, c), (end2, d) = lifecycle(sink)
    assert (start1, end1, start2, end2) == (
        "session.start", "session.end", "session.start", "session.end",
    )  # fmt: skip
    assert (a["session.id"], b["session.id"], c["session.id"]) == ("s1", "s1", "s2")
    assert "session.previous_id" not in a
    assert b["sessionvision.session.end_reason"] == "timeout"
    assert (b["sessionvision.session.events_count"], b["user.id"]) == (2, "u1")
    assert c["session.previous_id"] == "s1"  # the same user's earlier session
    assert d["sessionvision.session.end_reason"] == "timeout"
    documents = sessions_cli("list", "--data-dir", str(data))
    assert [(doc["secure_id"], doc["processed"]) for doc in documents] == [
        ("s1", True), ("s2", True),
    ]  # fmt: skip
    validator = highlight_validator()
    for document in documents:
        validator.validate(document)
    assert documents[1]["sv_otel"]["previous_id"] == "s1"


@pytest.mark.anyio
async def test_a_crash_in_the_middle_starts_no_second_session(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with grpc_sink() as (sink, sink_port):
        port = free_port()
        args = serve_args(data, sink_port, "--ingest-address", f"127.0.0.1:{port}")
        first = await ServeProcess.start(None, tmp_path / "unused", *args)
        async with httpx.AsyncClient(base_url=first.url) as client:
            assert (await client.post(INGEST, json=batch("s1", "one", "two"))).status_code == 200
        await until(sink, lambda: len(sink.log_records()) >= 3)
        first.process.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        second = await ServeProcess.start(None, tmp_path / "unused", *args)
        async with httpx.AsyncClient(base_url=second.url) as client:
            sent = await client.post(INGEST, json=batch("s1", "three", at=T0 + 2))
            assert sent.status_code == 200
        await until(sink, lambda: "three" in [r.event_name for r in sink.log_records()])
        assert await second.stop() == 0, second.log  # a graceful stop ends the session
    records = sink.log_records()
    assert {r.event_name for r in records} == {
        "session.start",
        "one",
        "two",
        "three",
        "session.end",
    }
    # The export of the batch in flight at the crash may have been repeated (at least once),
    # but no second session.start was made: one would be stamped with the time of "three".
    starts = {r.time_unix_nano for r in records if r.event_name == "session.start"}
    assert starts == {T0 * 1_000_000}
    assert [r.event_name for r in records].count("session.end") == 1
    (_, end) = lifecycle(sink)[-1]
    assert end["sessionvision.session.end_reason"] == "shutdown"
    assert end["sessionvision.session.events_count"] == 3
    [shown] = sessions_cli("show", "s1", "--data-dir", str(data))
    highlight_validator().validate(shown["session"])
    assert (shown["session"]["events_count"], shown["session"]["processed"]) == (3, True)
    assert [e["event"] for e in shown["events"]] == [
        "session.start", "one", "two", "three", "session.end",
    ]  # fmt: skip


async def start_call(
    client: httpx.AsyncClient, origin: str, *, status: int = 200, **fields: Any
) -> dict[str, Any]:
    response = await client.post(START, json=fields, headers={"Origin": origin})
    assert response.status_code == status, response.text
    assert response.headers["access-control-allow-origin"] == origin
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.anyio
async def test_the_start_endpoint_over_http_then_ingest_with_its_session_id(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    raw = default_config()
    raw["receivers"]["sessionvision"] = {
        "protocols": {"http": {"endpoint": "127.0.0.1:0", "cors": {"allowed_origins": [SHOP, PAY]}}}
    }
    async with grpc_sink() as (sink, sink_port):
        args = serve_args(data, sink_port, "--session-secret", SECRET)
        server = await ServeProcess.start(raw, tmp_path / "sv.yaml", *args)
        async with httpx.AsyncClient(base_url=server.url) as client:
            shop = await start_call(
                client, SHOP, userID="jane@example.com", metadata={"plan": "pro"}, userUUID=UUID
            )
            assert shop["success"] is True
            session = shop["sessionID"]
            refresh = await start_call(client, SHOP, sessionToken=shop["sessionToken"])
            assert refresh["sessionID"] == session  # a page refresh keeps the session
            pay = await start_call(client, PAY, sessionHash=f"3&{shop['sessionHash']}")
            assert pay["sessionID"] == session  # the hash continues it on the other site
            forced = await start_call(
                client, SHOP, sessionToken=shop["sessionToken"], userUUID=UUID, forceNew=True
            )
            assert forced["sessionID"] != session
            failures = [
                await start_call(
                    client, PAY, status=401, sessionHash=shop["sessionToken"][:-2] + "xx"
                ),
                await start_call(client, SHOP, status=400, metadata={"plan": 3}),
                await start_call(client, SHOP, status=400, forceNew="yes"),
            ]
            assert failures == [
                {"success": False, "reason": "sessionHash: invalid signature"},
                {"success": False, "reason": "metadata.plan: expected a string, got a number"},
                {"success": False, "reason": "forceNew: expected a boolean, got a string"},
            ]
            evil = await client.post(START, json={}, headers={"Origin": "https://evil.example"})
            assert evil.status_code == 403
            sent = await client.post(INGEST, json=batch(session, "$pageview", anon=UUID))
            assert sent.status_code == 200
            await until(sink, lambda: len(sink.log_records()) >= 7)
        assert await server.stop() == 0, server.log
    names = [(attributes(r)["session.id"], r.event_name) for r in sink.log_records()]
    other = forced["sessionID"]
    assert names[:7] == [
        (session, "session.start"), (session, "$start"), (session, "$start"), (session, "$start"),
        (other, "session.start"), (other, "$start"), (session, "$pageview"),
    ]  # fmt: skip
    starts = {a["session.id"]: a for name, a in lifecycle(sink) if name == "session.start"}
    assert starts[session] == {
        "session.id": session,
        "user.id": "jane@example.com",
        "enduser.pseudo.id": UUID,
        "plan": "pro",
    }
    assert starts[other]["session.previous_id"] == session
    documents = {doc["secure_id"]: doc for doc in sessions_cli("list", "--data-dir", str(data))}
    assert set(documents) == {session, other}
    validator = highlight_validator()
    for document in documents.values():
        validator.validate(document)
    first = documents[session]
    assert (first["identifier"], first["events_count"], first["processed"]) == (
        "jane@example.com", 4, True,
    )  # fmt: skip
    assert {"name": "plan", "value": "pro", "type": "session"} in first["fields"]


@pytest.mark.anyio
async def test_two_workers_share_the_sessions(tmp_path: Path) -> None:
    data = tmp_path / "data"
    port = free_port()
    async with grpc_sink() as (sink, sink_port):
        args = serve_args(data, sink_port, "--ingest-address", f"127.0.0.1:{port}")
        server = await ServeProcess.start(
            None,
            tmp_path / "unused",
            *args,
            "--workers",
            "2",
            "--session-secret",
            SECRET,
            workers=2,
        )
        workers: Counter[int] = Counter()
        started: list[str] = []
        token: dict[str, Any] = {}
        sent = 0
        while sent < 12 or len(workers) < 2:  # until both workers had some
            assert sent < 200, workers
            async with httpx.AsyncClient(base_url=server.url) as fresh:  # a new connection
                workers[(await fresh.get("/readyz")).json()["worker"]] += 1
                events = batch(f"s{sent % 4}", f"e{sent}", anon=f"a{sent}")
                assert (await fresh.post(INGEST, json=events)).status_code == 200
                if sent % 4 == 0:  # one session started by the API, then refreshed
                    body = await start_call(fresh, SHOP, **token)
                    started.append(body["sessionID"])
                    token = {"sessionToken": body["sessionToken"]}
            sent += 1
        assert len(set(started)) == 1
        await until(sink, lambda: len(sink.log_records()) >= sent + len(started) + 5)
        assert await server.stop() == 0, server.log
    names = Counter((attributes(r)["session.id"], r.event_name) for r in sink.log_records())
    opened = sorted(session for (session, name) in names if name == "session.start")
    ended = sorted(session for (session, name) in names if name == "session.end")
    # Four ingested sessions and one started by the API: each started and ended once.
    assert opened == ended == sorted([*(f"s{n}" for n in range(4)), started[0]])
    assert all(names[(session, "session.start")] == 1 for session in opened)
    assert all(names[(session, "session.end")] == 1 for session in ended)
    documents = sessions_cli("list", "--data-dir", str(data))
    assert sorted(doc["secure_id"] for doc in documents) == opened
    assert sum(doc["events_count"] for doc in documents) == sent + len(started)
