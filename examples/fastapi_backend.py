"""A FastAPI backend whose spans and logs carry the browser's session, set up with zero code.

The app has no OpenTelemetry set-up at all: ``opentelemetry-instrument`` and environment
variables do it (``pip install -e '.[dev]'`` brings the instrumentations)::

    OTEL_PYTHON_CONFIGURATOR=sessionvision \\
    OTEL_PROPAGATORS=tracecontext,baggage,sessionvision \\
    OTEL_SERVICE_NAME=checkout OTEL_TRACES_EXPORTER=console OTEL_LOGS_EXPORTER=console \\
    opentelemetry-instrument python examples/fastapi_backend.py --port 8000

    curl -H 'X-Sessionvision-Session-Id: a1b2c3d4-e5f6-4711-8899-aabbccddeeff' \\
         -H 'Authorization: Bearer user_456' localhost:8000/checkout

Every span (the server span, the cart and SQL spans, the asyncio task, the worker thread, the
background task, the call to ``DOWNSTREAM_URL`` if set) and every log record carries
``session.id``; after the (toy) authentication, ``user.id`` too. ``DOWNSTREAM_URL`` receives the
session in its ``baggage`` header.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sqlite3

import httpx
import uvicorn
from fastapi import BackgroundTasks, FastAPI, Header
from opentelemetry import trace
from opentelemetry.trace import SpanKind

import sv_otel

logger = logging.getLogger("examples.checkout")
logger.setLevel(logging.INFO)
tracer = trace.get_tracer("examples.checkout")

app = FastAPI()


def query_cart(user: str) -> int:
    """A real (in-memory) SQL query in a CLIENT span, the way a DB instrumentation makes one."""
    with tracer.start_as_current_span(
        "SELECT cart",
        kind=SpanKind.CLIENT,
        attributes={"db.system.name": "sqlite", "db.operation.name": "SELECT"},
    ):
        db = sqlite3.connect(":memory:")
        try:
            db.execute("CREATE TABLE cart (user TEXT, item TEXT)")
            db.executemany("INSERT INTO cart VALUES (?, ?)", [(user, "book"), (user, "pen")])
            (count,) = db.execute("SELECT count(*) FROM cart WHERE user = ?", (user,)).fetchone()
        finally:
            db.close()
    logger.info("cart has %d items", count)
    return int(count)


async def price_items() -> None:
    with tracer.start_as_current_span("price items"):
        logger.info("prices computed")


def send_receipt() -> None:
    with tracer.start_as_current_span("send receipt"):
        logger.info("receipt sent")


@app.get("/checkout")
async def checkout(
    background: BackgroundTasks, authorization: str | None = Header(default=None)
) -> dict[str, object]:
    user = "anonymous"
    if authorization and authorization.startswith("Bearer "):
        user = authorization.removeprefix("Bearer ")  # a real app verifies the credential
        sv_otel.bind_user(user)
    logger.info("checkout started")
    with tracer.start_as_current_span("load cart"):
        count = await asyncio.to_thread(query_cart, user)
    await asyncio.create_task(price_items())
    background.add_task(send_receipt)
    downstream = os.environ.get("DOWNSTREAM_URL")
    if downstream:
        async with httpx.AsyncClient() as client:
            await client.get(downstream)
    session = sv_otel.current_session()
    return {"session_id": session.session_id if session else None, "items": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(2048)  # connections wait in the backlog until uvicorn serves them
    host, port = sock.getsockname()[:2]
    print(f"listening on http://{host}:{port}", flush=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
