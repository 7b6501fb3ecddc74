"""The environment's proxy, used for the ingest host unless NO_PROXY excludes it (on uvloop)."""

from __future__ import annotations

import pytest
import uvloop

from sv_otel.event import Event
from sv_otel.sessionvision import IngestClient
from tests.loop_thread import LoopThread
from tests.sessionvision.raw_server import running_raw_server


def _events() -> list[Event]:
    return [Event(event="click", timestamp=1_709_856_000_000, session_id="s1")]


def test_the_environment_proxy_is_used_unless_no_proxy_says_otherwise(
    loop: LoopThread, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with running_raw_server(loop) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)

        async def send(host: str) -> None:
            async with IngestClient(host, retry_delays=()) as client:
                await client.send(_events())

        uvloop.run(send("http://ingest.invalid"))
        assert proxy.seen[0].head.startswith(
            b"POST http://ingest.invalid/api/v1/ingest/events HTTP/1.1\r\n"
        )
        with running_raw_server(loop) as direct:
            monkeypatch.setenv("NO_PROXY", "localhost, .example.com,127.0.0.1:80,127.0.0.1")
            uvloop.run(send(direct.url))
        assert len(proxy.seen) == 1
        assert direct.seen[0].head.startswith(b"POST /api/v1/ingest/events HTTP/1.1\r\n")
