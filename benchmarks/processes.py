"""Process helpers shared by the benchmarks that run ``sv-otel serve`` (Linux ``/proc``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size (``VmHWM``), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def worker_pids(pid: int, count: int) -> list[int]:
    """The ``count`` worker processes of ``sv-otel serve`` running as ``pid`` (itself for 1)."""
    if count == 1:
        return [pid]
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    # spawn starts a resource tracker too; the workers are the biggest children
    return sorted(children, key=peak_rss_mib, reverse=True)[:count]


def start_serve(
    arguments: list[str], *, workers: int = 1, python: list[str] | None = None
) -> subprocess.Popen[str]:
    """Start ``sv-otel serve`` with ``arguments`` and return once every worker is ready.

    Args:
        arguments: the ``serve`` command line after ``serve`` (``--workers`` is added).
        workers: worker processes.
        python: interpreter options before ``-m`` (e.g. a profiler's).
    """
    process = subprocess.Popen(
        [
            sys.executable,
            *(python or []),
            "-m",
            "sv_otel.cli",
            "serve",
            *arguments,
            "--workers",
            str(workers),
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for _ in range(workers):
        while " ready" not in process.stdout.readline():
            if process.poll() is not None:
                raise RuntimeError(f"sv-otel serve exited with status {process.returncode}")
    return process
