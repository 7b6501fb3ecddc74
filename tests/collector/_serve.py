"""Real ``sv-otel serve`` processes next to the real Collector, driven from synchronous tests.

An :class:`SvOtel` is one instance: its configuration (written to ``<directory>/serve.yaml``), its
data directory and, while it runs, its process. It can be started, stopped with SIGTERM, killed
with SIGKILL and started again on the same ports and data directory, which is what a Collector
pointed at fixed addresses needs. The processes run on a :class:`~tests.loop_thread.LoopThread`,
as the Collector, the OTel SDK and grpc's channels block the test's own thread.
"""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tests.loop_thread import LoopThread
from tests.receiver.serve import metrics, sample
from tests.serving import ServeProcess

_START_TIMEOUT = 90.0


class SvOtel:
    """One ``sv-otel serve --config <directory>/serve.yaml`` instance.

    Args:
        loop: runs the process's I/O.
        config: the configuration (written to the file at each start).
        directory: holds the configuration file; usually also its data directory.
        metrics_url: where its ``/metrics`` are served (``http://host:port``), if anywhere.
    """

    def __init__(
        self,
        loop: LoopThread,
        config: dict[str, Any],
        directory: Path,
        *,
        metrics_url: str | None = None,
    ) -> None:
        self.loop = loop
        self.config = config
        self.directory = directory
        self.metrics_url = metrics_url
        self.process: ServeProcess | None = None
        self.logs: list[str] = []
        """The output of earlier (stopped or killed) processes of this instance."""

    def _current(self) -> ServeProcess:
        assert self.process is not None, "the instance is not running"
        return self.process

    @property
    def ports(self) -> dict[str, int]:
        """``"<receiver id> <http|grpc>"`` -> the port it listens on, as the process printed."""
        return self._current().ports

    @property
    def log(self) -> str:
        """Everything this instance printed so far, over all its processes (for messages)."""
        current = [] if self.process is None else [self.process.log]
        return "\n".join([*self.logs, *current])[-8000:]

    def start(self) -> None:
        """Start the process and wait until it is ready."""
        assert self.process is None, "the instance is running already"
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = self.loop.run(
            ServeProcess.start(self.config, self.directory / "serve.yaml"), _START_TIMEOUT
        )

    def stop(self) -> int:
        """SIGTERM (the graceful stop: requests finished, processors flushed, queue exported for
        up to ``shutdown_timeout``); the exit status."""
        return self._end(signal.SIGTERM)

    def kill(self) -> int:
        """SIGKILL, as a crash or an OOM kill would: nothing is flushed. The exit status."""
        return self._end(signal.SIGKILL)

    def _end(self, sig: int) -> int:
        process = self._current()
        status = self.loop.run(process.stop(sig), _START_TIMEOUT)
        self.logs.append(process.log)
        self.process = None
        return status

    def samples(self) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        """Its Prometheus samples by name and labels."""
        assert self.metrics_url is not None, "no metrics address configured"
        return metrics(self.metrics_url)

    def metric(self, name: str, **labels: str) -> float:
        """One sample's value (0 when absent)."""
        return sample(self.samples(), name, **labels)

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
        """Poll ``condition`` until it holds; fail naming ``what``, with this instance's log."""
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out waiting for {what}\n{self.log}"
            time.sleep(0.05)


@contextlib.contextmanager
def running(*instances: SvOtel) -> Iterator[tuple[SvOtel, ...]]:
    """Start ``instances`` in order; stop the running ones with SIGTERM when the block ends.

    Leaving the block normally asserts exit status 0 for each; leaving it with an exception kills
    them first and re-raises.
    """
    started: list[SvOtel] = []
    try:
        for instance in instances:
            instance.start()
            started.append(instance)
        yield instances
    except BaseException:
        for instance in started:
            if instance.process is not None:
                instance.kill()
        raise
    for instance in started:
        if instance.process is not None:
            status = instance.stop()
            assert status == 0, f"sv-otel serve exited with status {status}:\n{instance.log}"
