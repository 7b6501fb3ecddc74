"""A real headless Chromium posts batches cross-origin, as the sessionvision SDK does.

The page comes from one origin (a small server in the test); the gateway listens on another.
The page sends a batch with ``fetch`` + ``CompressionStream('gzip')`` + ``keepalive`` (which
needs a CORS preflight: JSON, ``Content-Encoding`` and ``Authorization``) and one with
``navigator.sendBeacon`` (``text/plain``, token in the body, no preflight). Both must reach the
OTLP sink with their session id. The page the README points newcomers to,
``examples/browser.html``, is loaded as shipped too. Skipped only when no Chromium binary can be
found (``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from sv_otel.server.sockets import HttpServer, bind_socket
from tests.gateway import gateway_config, ingest_url, running
from tests.sinks import grpc_sink

pytestmark = pytest.mark.anyio

CHROMIUM = next(
    (
        found
        for name in ("chromium", "chromium-browser", "google-chrome")
        if (found := shutil.which(name))
    ),
    None,
)
TOKEN = "sv_pub_browser"
SESSION = "b7e2c1d0-5a4f-4e3b-9c8d-7f6e5d4c3b2a"

PAGE = """<!doctype html><html><body><script>
const ingest = "%(ingest)s/api/v1/ingest/events";
function event(name) {
  return {event: name, timestamp: Date.now(), properties: {$browser: "Chromium", via: name},
          anonymousId: "anon-1", userId: null, sessionId: "%(session)s"};
}
async function run() {
  const results = {};
  const json = JSON.stringify([event("fetch_gzip_keepalive")]);
  const gz = new Blob([json]).stream().pipeThrough(new CompressionStream("gzip"));
  const body = await new Response(gz).arrayBuffer();
  const response = await fetch(ingest, {
    method: "POST", body, keepalive: true, mode: "cors",
    headers: {"Content-Type": "application/json", "Content-Encoding": "gzip",
              "Authorization": "Bearer %(token)s"},
  });
  results.fetch = {status: response.status, body: await response.json()};
  const beacon = JSON.stringify({events: [event("beacon")], token: "%(token)s"});
  results.beacon = navigator.sendBeacon(ingest, new Blob([beacon], {type: "text/plain"}));
  await fetch("/done", {method: "POST", body: JSON.stringify(results)});
}
run().catch((error) =>
  fetch("/done", {method: "POST", body: JSON.stringify({error: String(error)})}));
</script></body></html>"""


@contextlib.asynccontextmanager
async def chromium(url: str, profile: Path) -> AsyncIterator[None]:
    """Headless Chromium showing ``url`` while the block runs."""
    assert CHROMIUM is not None
    browser = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        url,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        browser.kill()
        await browser.wait()


class PageServer:
    """Serves ``html`` at ``/`` of its own origin; a POST to ``/done`` resolves ``done``."""

    def __init__(self) -> None:
        self.html = ""
        self.done: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
        self._socket = bind_socket("127.0.0.1", 0, reuse_port=False)
        self.origin = f"http://127.0.0.1:{self._socket.getsockname()[1]}"

    async def _page(self, request: Request) -> Response:
        return HTMLResponse(self.html)

    async def _finished(self, request: Request) -> Response:
        if not self.done.done():
            self.done.set_result(msgspec.json.decode(await request.body()))
        return Response(b"ok")

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[None]:
        routes = [Route("/", self._page), Route("/done", self._finished, methods=["POST"])]
        server = HttpServer(Starlette(routes=routes), self._socket)
        await server.start()
        try:
            yield
        finally:
            await server.shutdown()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)")
async def test_chromium_fetch_gzip_keepalive_and_send_beacon_reach_the_sink(
    tmp_path: Path,
) -> None:
    pages = PageServer()
    async with grpc_sink() as (sink, port):
        raw = gateway_config(
            tmp_path / "data",
            {"otlp": {"endpoint": f"http://127.0.0.1:{port}"}},
            tokens=[TOKEN],
        )
        raw["receivers"]["sessionvision"]["protocols"]["http"]["cors"] = {
            "allowed_origins": [pages.origin]
        }
        async with running(raw) as gateway, pages.serving():
            pages.html = PAGE % {"ingest": ingest_url(gateway), "session": SESSION, "token": TOKEN}
            async with chromium(pages.origin + "/", tmp_path / "profile"):
                results = await asyncio.wait_for(pages.done, 60)
                await sink.wait_for_records(2, timeout=30)

    # A 200 readable by the page: the preflight (JSON, gzip, Authorization) was allowed.
    assert results["fetch"] == {"status": 200, "body": {"accepted": 1, "rejected": 0, "errors": []}}
    assert results["beacon"] is True
    assert sorted(sink.session_event_names()) == [
        (SESSION, "beacon"),
        (SESSION, "fetch_gzip_keepalive"),
    ]


EXAMPLE_PAGE = Path(__file__).parents[2] / "examples" / "browser.html"
# Appended to the shipped page: report what it shows once it shows something.
REPORT = """<script>
const shown = setInterval(() => {
  const text = document.getElementById("out").textContent;
  if (text) {
    clearInterval(shown);
    fetch("/done", {method: "POST", body: JSON.stringify({shown: text})});
  }
}, 50);
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)")
async def test_the_shipped_example_page_reaches_a_default_gateway(tmp_path: Path) -> None:
    # The gateway's default receiver settings (CORS open, no token), as in the embedded
    # configuration; the page's hard-coded 127.0.0.1:8080 becomes the gateway's port.
    pages = PageServer()
    async with grpc_sink() as (sink, port):
        raw = gateway_config(tmp_path / "data", {"otlp": {"endpoint": f"http://127.0.0.1:{port}"}})
        async with running(raw) as gateway, pages.serving():
            shipped = EXAMPLE_PAGE.read_text()
            assert "http://127.0.0.1:8080/api/v1/ingest/events" in shipped
            pages.html = shipped.replace("http://127.0.0.1:8080", ingest_url(gateway)).replace(
                "</body>", REPORT + "</body>"
            )
            async with chromium(pages.origin + "/", tmp_path / "profile"):
                report = await asyncio.wait_for(pages.done, 60)
                await sink.wait_for_records(2, timeout=30)

    session, _, answer = str(report["shown"]).removeprefix("session ").partition(": ")
    assert answer == '200 {"accepted":1,"rejected":0,"errors":[]}'
    assert sorted(sink.session_event_names()) == [(session, "$pageview"), (session, "page_hidden")]
