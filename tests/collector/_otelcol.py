"""Run the real OpenTelemetry Collector binary in tests, on free loopback ports, in a temp dir.

``run_collector`` starts ``otelcol-sv --config=<file>`` with the environment the configurations in
``collector_config/`` read (``SV_OTEL_COLLECTOR_*`` and friends), waits until the Collector says it
is ready, and on leaving the ``with`` block stops it cleanly with SIGTERM (asserting exit status 0)
or, if the block raised, kills it at once so a failing test never leaves a Collector behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "collector_config"
BUILD_SCRIPT = CONFIG_DIR / "build-collector.sh"
CONFIGS = ("gateway.yaml", "loadbalancing.yaml", "to-sessionvision.yaml")

READY_LINE = "Everything is ready. Begin running and processing data."
"""What the Collector logs once every pipeline, receiver and extension has started."""

_READY_TIMEOUT = 60.0
_STOP_TIMEOUT = 30.0
_SIGNAL_GRACE = 1.0
"""Seconds after the ready line before a SIGTERM is sent. The Collector logs READY_LINE at the
end of its start-up and only then subscribes to SIGTERM (in ``otelcol.Collector.Run``,
``signal.Notify`` follows ``setupConfigurationComponents``), so a SIGTERM sent in between kills
it outright (status -15) instead of shutting it down gracefully."""
_LOG_TAIL = 6000


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (bound with port 0, read back, released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def loopback_env(workdir: Path) -> dict[str, str]:
    """The variables every configuration reads, pointed at loopback ports and under ``workdir``.

    Listen addresses get fresh free ports on 127.0.0.1; the persistent queue's storage and the
    capture file go under ``workdir``. Reuse the returned mapping to restart a Collector on the same
    ports and storage.
    """
    return {
        "SV_OTEL_COLLECTOR_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
        "SV_OTEL_COLLECTOR_HTTP_ENDPOINT": f"127.0.0.1:{free_port()}",
        "SV_OTEL_COLLECTOR_METRICS_HOST": "127.0.0.1",
        "SV_OTEL_COLLECTOR_METRICS_PORT": str(free_port()),
        "SV_OTEL_COLLECTOR_STORAGE_DIR": str(workdir / "storage"),
        "SV_OTEL_COLLECTOR_CAPTURE_FILE": str(workdir / "capture.jsonl"),
        # Small enough to matter on a test machine, large enough never to refuse test traffic.
        "SV_OTEL_COLLECTOR_MEMORY_LIMIT_MIB": "512",
        "SV_OTEL_COLLECTOR_MEMORY_SPIKE_MIB": "128",
    }


def collector_command(binary: Path, config: str | Path, *args: str) -> list[str]:
    """``[binary, *args, --config=<config>]``, a bare name resolved in ``collector_config/``."""
    path = Path(config) if Path(config).is_absolute() else CONFIG_DIR / config
    return [str(binary), *args, f"--config={path}"]


def process_env(env: Mapping[str, str]) -> dict[str, str]:
    """A minimal environment: PATH and HOME from this process, then ``env``.

    Nothing else is inherited, so a developer's own ``SV_OTEL_*`` settings cannot leak into a test.
    """
    base = {key: os.environ[key] for key in ("PATH", "HOME") if key in os.environ}
    return {**base, **env}


@dataclass
class RunningCollector:
    """A started Collector: its process, the addresses it listens on and its log file."""

    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log_path: Path
    _log_offset: int = field(default=0, repr=False)
    killed: bool = False
    """Whether ``kill()`` was called (then leaving ``run_collector`` expects no clean exit)."""
    ready_at: float | None = None
    """When (``time.monotonic()``) the ready line was seen."""

    @property
    def grpc_endpoint(self) -> str:
        """The OTLP/gRPC receiver's ``127.0.0.1:<port>``."""
        return self.env["SV_OTEL_COLLECTOR_GRPC_ENDPOINT"]

    @property
    def http_url(self) -> str:
        """The OTLP/HTTP receiver's base URL, ``http://127.0.0.1:<port>``."""
        return "http://" + self.env["SV_OTEL_COLLECTOR_HTTP_ENDPOINT"]

    def log(self) -> str:
        """What this process has logged so far (it logs to stderr)."""
        with self.log_path.open("rb") as log_file:
            log_file.seek(self._log_offset)
            return log_file.read().decode(errors="replace")

    def metrics(self) -> str:
        """The Collector's own metrics, in the Prometheus text format."""
        port = self.env["SV_OTEL_COLLECTOR_METRICS_PORT"]
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text: str = response.read().decode()
            return text

    def metric_sum(self, name: str) -> float:
        """The sum of every sample of counter or gauge ``name`` (any labels, with or without a
        ``_total`` suffix); 0 when the Collector has not reported it yet."""
        total = 0.0
        for line in self.metrics().splitlines():
            series = line.split("{", 1)[0].split(" ", 1)[0]
            if series in (name, name + "_total"):
                total += float(line.rsplit(" ", 1)[1])
        return total

    def wait_for_metric(self, name: str, at_least: float, timeout: float = 30.0) -> float:
        """Poll ``metric_sum(name)`` until it reaches ``at_least``; its last value.

        Raises:
            AssertionError: when ``timeout`` seconds pass first.
        """
        deadline = time.monotonic() + timeout
        while (value := self.metric_sum(name)) < at_least:
            assert time.monotonic() < deadline, f"{name} is {value} after {timeout} s"
            time.sleep(0.05)
        return value

    def kill(self) -> None:
        """SIGKILL, as a crash or an OOM kill would: nothing is flushed."""
        self.killed = True
        self.process.kill()
        self.process.wait(_STOP_TIMEOUT)

    def stop(self) -> int:
        """SIGTERM, then wait for the graceful shutdown; the exit status (killed if it hangs)."""
        if self.ready_at is not None:
            time.sleep(max(0.0, self.ready_at + _SIGNAL_GRACE - time.monotonic()))
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(_STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(
                    f"the Collector did not stop within {_STOP_TIMEOUT} s of SIGTERM:\n"
                    + self.log()[-_LOG_TAIL:]
                ) from None
        return self.process.returncode


def _wait_ready(collector: RunningCollector, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while READY_LINE not in collector.log():
        status = collector.process.poll()
        if status is not None:
            raise AssertionError(
                f"the Collector exited with status {status} before it was ready:\n"
                + collector.log()[-_LOG_TAIL:]
            )
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the Collector was not ready after {timeout} s:\n" + collector.log()[-_LOG_TAIL:]
            )
        time.sleep(0.05)
    collector.ready_at = time.monotonic()


@contextlib.contextmanager
def run_collector(
    binary: Path,
    config: str | Path,
    env: Mapping[str, str],
    *,
    log_path: Path,
    ready_timeout: float = _READY_TIMEOUT,
) -> Iterator[RunningCollector]:
    """Start the Collector with ``config`` and ``env``, yield it once ready, then stop it.

    Args:
        binary: the Collector binary (the ``otelcol`` fixture).
        config: a file name in ``collector_config/`` or a path.
        env: the configuration's variables, usually ``loopback_env(tmp_path)`` plus overrides.
        log_path: where the Collector's log goes (appended to, so a restart keeps the history).
        ready_timeout: seconds to wait for the ready line before failing.

    Yields:
        The running Collector. Leaving the block normally stops it with SIGTERM and asserts exit
        status 0 (unless the test killed it on purpose); leaving it with an exception kills it
        first and re-raises.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    offset = log_path.stat().st_size if log_path.exists() else 0
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            collector_command(binary, config),
            env=process_env(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    collector = RunningCollector(process, dict(env), log_path, offset)
    try:
        _wait_ready(collector, ready_timeout)
        yield collector
    except BaseException:
        if process.poll() is None:
            collector.kill()
        raise
    if collector.killed:
        return
    status = collector.stop()
    assert status == 0, (
        f"the Collector exited with status {status} on SIGTERM:\n" + collector.log()[-_LOG_TAIL:]
    )
