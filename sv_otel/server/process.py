"""Running the gateway: one process, or a supervisor with worker processes sharing the ports.

``--workers 1`` runs everything in the calling process. With more, the supervisor starts
``N`` processes (``spawn``); each binds the same ports with ``SO_REUSEPORT`` (so ports must be
fixed, not 0), owns its queue shard, and answers ``/metrics`` for all (Prometheus multiprocess
mode in ``<data-dir>/metrics``). ``SIGTERM`` / ``SIGINT`` stop gracefully: the supervisor passes
the signal on and waits; a worker that dies is restarted after a second.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from sv_otel.errors import ConfigurationError
from sv_otel.server.config import GatewayConfig, load_config
from sv_otel.server.registry import REGISTRY
from sv_otel.server.runtime import Gateway

__all__ = ["run_gateway", "serve_worker"]

logger = logging.getLogger(__name__)


def run_gateway(config: GatewayConfig, announce: Callable[[str], None] = print) -> int:
    """Serve ``config`` until SIGTERM/SIGINT; return the exit status."""
    workers = config.service.workers
    if workers == 1:
        _run(serve_worker(config, 0, 1, announce))
        return 0
    _check_fixed_ports(config.raw)
    metrics_dir = config.service.data_dir / "metrics"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    return _supervise(config.raw, workers)


async def serve_worker(
    config: GatewayConfig, worker: int, workers: int, announce: Callable[[str], None] = print
) -> None:
    """Start a :class:`~sv_otel.server.runtime.Gateway`, wait for a signal, stop it."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    gateway = Gateway(config, worker=worker, workers=workers)
    try:
        await gateway.start()
    except BaseException:
        await gateway.stop()
        raise
    for name, receiver in gateway.receivers.items():
        for kind in ("http", "grpc"):
            port = getattr(receiver, f"{kind}_port", None)
            if port is not None:
                announce(f"sv-otel serve: worker {worker}: {name} {kind} port {port}")
    announce(f"sv-otel serve: worker {worker} ready (data in {config.service.data_dir})")
    await stop.wait()
    announce(f"sv-otel serve: worker {worker} stopping")
    await gateway.stop()


def _run(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - not on Windows
        asyncio.run(main)
        return
    uvloop.run(main)


def _worker_main(raw: Mapping[str, Any], worker: int, workers: int) -> None:
    logging.basicConfig(level=logging.INFO, format="sv-otel: %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # it logs every request at info
    config = load_config(raw, REGISTRY)
    _run(serve_worker(config, worker, workers, lambda line: print(line, flush=True)))


def _supervise(raw: Mapping[str, Any], workers: int) -> int:
    context = multiprocessing.get_context("spawn")
    processes: dict[int, multiprocessing.process.BaseProcess] = {}
    stopping = False

    def start(index: int) -> None:
        process = context.Process(
            target=_worker_main, args=(dict(raw), index, workers), name=f"sv-otel-worker-{index}"
        )
        process.start()
        processes[index] = process

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True
        for process in processes.values():
            if process.pid is not None and process.is_alive():
                os.kill(process.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    for index in range(workers):
        start(index)
    while True:
        for index, process in list(processes.items()):
            if process.is_alive():
                continue
            if stopping:
                processes.pop(index)
                continue
            print(
                f"sv-otel serve: worker {index} exited ({process.exitcode}); restarting",
                file=sys.stderr,
            )
            time.sleep(1.0)
            start(index)
        if stopping and not processes:
            return 0
        time.sleep(0.1)


def _check_fixed_ports(raw: Mapping[str, Any]) -> None:
    def walk(value: object, path: str) -> None:
        if isinstance(value, Mapping):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif (
            isinstance(value, str)
            and path.endswith(("endpoint", "address"))
            and value.endswith(":0")
        ):
            raise ConfigurationError(
                f"{path}: port 0 cannot be shared by several workers; choose a port"
            )

    walk(raw, "")
