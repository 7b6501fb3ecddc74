"""A real headless Chromium posts batches cross-origin, as the sessionvision SDK does.

The page comes from one origin (a small server in the test); the gateway listens on another.
The page sends a batch with ``fetch`` + ``CompressionStream('gzip')`` + ``keepalive`` (which
needs a CORS preflight: JSON, ``Content-Encoding`` and ``Authorization``) and one with
``navigator.sendBeacon`` (``text/plain``, token in the body, no preflight). Both must reach the
OTLP sink with their session id. Skipped only when no Chromium binary can be found
(``.ci/run`` installs Debian's ``chromium``).
"""

from __future__ import annotations

import asyncio
import shutil
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


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)")
async def test_chromium_fetch_gzip_keepalive_and_send_beacon_reach_the_sink(
    tmp_path: Path,
) -> None:
    assert CHROMIUM is not None
    done: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()
    page_socket = bind_socket("127.0.0.1", 0, reuse_port=False)
    page_origin = f"http://127.0.0.1:{page_socket.getsockname()[1]}"

    async with grpc_sink() as (sink, port):
        raw = gateway_config(
            tmp_path / "data",
            {"otlp": {"endpoint": f"http://127.0.0.1:{port}"}},
            tokens=[TOKEN],
        )
        raw["receivers"]["sessionvision"]["protocols"]["http"]["cors"] = {
            "allowed_origins": [page_origin]
        }
        async with running(raw) as gateway:
            html = PAGE % {"ingest": ingest_url(gateway), "session": SESSION, "token": TOKEN}

            async def page(request: Request) -> Response:
                return HTMLResponse(html)

            async def finished(request: Request) -> Response:
                if not done.done():
                    done.set_result(msgspec.json.decode(await request.body()))
                return Response(b"ok")

            app = Starlette(routes=[Route("/", page), Route("/done", finished, methods=["POST"])])
            page_server = HttpServer(app, page_socket)
            await page_server.start()
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
                f"--user-data-dir={tmp_path / 'profile'}",
                page_origin + "/",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                results = await asyncio.wait_for(done, 60)
                await sink.wait_for_records(2, timeout=30)
            finally:
                browser.kill()
                await browser.wait()
                await page_server.shutdown()

    # A 200 readable by the page: the preflight (JSON, gzip, Authorization) was allowed.
    assert results["fetch"] == {"status": 200, "body": {"accepted": 1, "rejected": 0, "errors": []}}
    assert results["beacon"] is True
    assert sorted(sink.session_event_names()) == [
        (SESSION, "beacon"),
        (SESSION, "fetch_gzip_keepalive"),
    ]
