"""Posting through an IngestTransport on uvloop (as the gateway runs it), for the transport tests.

:func:`on_uvloop` runs a scenario with a fresh transport (two idle connections kept) and closes
it after; :func:`post` sends one ingest post with a 5 s timeout (or the phases given).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
import uvloop

from sv_otel.sessionvision.transport import IngestTransport

T = TypeVar("T")
TIMEOUTS = {"timeout": httpx.Timeout(5.0).as_dict()}


def on_uvloop(scenario: Callable[[IngestTransport], Awaitable[T]]) -> T:
    """Run ``scenario`` on uvloop with a new transport, closed when it ends."""

    async def run() -> T:
        transport = IngestTransport(max_idle=2)
        try:
            return await scenario(transport)
        finally:
            await transport.aclose()

    return uvloop.run(run())


async def post(
    transport: IngestTransport, url: str, body: bytes = b"[]", **timeouts: float
) -> httpx.Response:
    """POST ``body`` to ``url`` + the ingest path, with 5 s timeouts unless ``timeouts`` says."""
    extensions = {"timeout": httpx.Timeout(5.0, **timeouts).as_dict()} if timeouts else TIMEOUTS
    request = httpx.Request(
        "POST",
        url + "/api/v1/ingest/events",
        headers={"Content-Type": "application/json"},
        content=body,
        extensions=extensions,
    )
    return await transport.handle_async_request(request)
