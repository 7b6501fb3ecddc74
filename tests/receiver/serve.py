"""``sv-otel serve`` processes for the receiver tests, driven from synchronous tests.

The OTel SDK exporters and grpc's channels block, so the serve process (and the test ingest
server) are run on a :class:`~tests.loop_thread.LoopThread` while the test calls them.
"""

from __future__ import annotations

import contextlib
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.loop_thread import LoopThread
from tests.serving import ServeProcess

_SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


@contextlib.contextmanager
def serving(
    loop: LoopThread,
    directory: Path,
    *args: str,
    config: dict[str, Any] | None = None,
    workers: int = 1,
) -> Iterator[ServeProcess]:
    """Run ``sv-otel serve <args>`` (with ``config`` as its file); stop it with SIGTERM.

    The exit status must be 0 when the block ends without an exception.
    """
    served = loop.run(
        ServeProcess.start(config, directory / "serve.yaml", *args, workers=workers), 90
    )
    try:
        yield served
    except BaseException:
        loop.run(served.stop())
        raise
    status = loop.run(served.stop())
    assert status == 0, served.log


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], what: str, served: ServeProcess) -> None:
    """Poll ``condition`` for up to 30 s; fail naming ``what``, with the server's log."""
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}\n{served.log}"
        time.sleep(0.02)


def metrics(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The samples of a Prometheus ``/metrics`` page by name and labels."""
    samples = {}
    for line in httpx.get(url + "/metrics").text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = frozenset(
            tuple(pair.split("=", 1)) for pair in (match["labels"] or "").split(",") if pair
        )
        clean = frozenset((key, value.strip('"')) for key, value in labels)
        samples[(match["name"], clean)] = float(match["value"])
    return samples


def sample(
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    """One sample's value, 0 when absent."""
    return samples.get((name, frozenset(labels.items())), 0.0)
