"""Running a real gateway in the test's event loop, on 127.0.0.1 port 0."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sv_otel.ingest.receiver import IngestReceiver
from sv_otel.server.config import load_config
from sv_otel.server.registry import REGISTRY
from sv_otel.server.runtime import Gateway


def gateway_config(data_dir: Path, exporters: dict[str, Any], **receiver: Any) -> dict[str, Any]:
    """A configuration: one sessionvision receiver on port 0 into ``exporters`` (logs pipeline).

    ``receiver`` keys go into the receiver's settings; ``traces=[ids]`` adds a traces pipeline.
    """
    traces = receiver.pop("traces", None)
    service = receiver.pop("service", {})
    settings = {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}, **receiver}
    pipelines: dict[str, Any] = {
        "logs": {"receivers": ["sessionvision"], "exporters": list(exporters)}
    }
    if traces:
        pipelines["traces"] = {"receivers": ["sessionvision"], "exporters": traces}
    return {
        "receivers": {"sessionvision": settings},
        "exporters": exporters,
        "service": {
            "data_dir": str(data_dir),
            "pipelines": pipelines,
            "shutdown_timeout": "2s",
            **service,
        },
    }


@asynccontextmanager
async def running(raw: dict[str, Any]) -> AsyncIterator[Gateway]:
    """Start a :class:`Gateway` for ``raw``; stop it gracefully on exit."""
    gateway = Gateway(load_config(raw, REGISTRY))
    await gateway.start()
    try:
        yield gateway
    finally:
        await gateway.stop()


def ingest_url(gateway: Gateway, receiver: str = "sessionvision") -> str:
    found = gateway.receivers[receiver]
    assert isinstance(found, IngestReceiver)
    return f"http://127.0.0.1:{found.http_port}"
