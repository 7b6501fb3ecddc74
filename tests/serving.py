"""``sv-otel serve`` as a real child process, for tests that signal or kill it."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

_PORT_LINE = re.compile(rb"worker (\d+): (\S+) (http|grpc) port (\d+)")


class ServeProcess:
    """A running ``python -m sv_otel.cli serve --config <file>``; ports read from its stdout."""

    def __init__(self, process: asyncio.subprocess.Process, ports: dict[str, int]) -> None:
        self.process = process
        self.ports = ports
        self.output: list[bytes] = []
        self._drain_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['sessionvision http']}"

    @classmethod
    async def start(
        cls,
        config: dict[str, Any] | None,
        path: Path,
        *args: str,
        timeout: float = 30.0,
        workers: int = 1,
    ) -> ServeProcess:
        """Start ``serve`` with ``config`` written to ``path`` (None: flags only) and ``args``."""
        options = list(args)
        if config is not None:
            path.write_text(yaml.safe_dump(config))
            options = ["--config", str(path), *options]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "sv_otel.cli",
            "serve",
            *options,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        ports: dict[str, int] = {}
        served = cls(process, ports)
        assert process.stdout is not None

        async def until_ready() -> None:
            assert process.stdout is not None
            ready = 0
            while True:
                line = await process.stdout.readline()
                if not line:
                    raise AssertionError(b"".join(served.output).decode())
                served.output.append(line)
                match = _PORT_LINE.search(line)
                if match:
                    ports[f"{match.group(2).decode()} {match.group(3).decode()}"] = int(
                        match.group(4)
                    )
                if b" ready" in line:
                    ready += 1
                    if ready == workers:
                        return

        await asyncio.wait_for(until_ready(), timeout)
        served._drain_task = asyncio.get_running_loop().create_task(served._drain())
        return served

    async def _drain(self) -> None:
        assert self.process.stdout is not None
        while line := await self.process.stdout.readline():
            self.output.append(line)

    @property
    def log(self) -> str:
        """The last lines the process printed (for assertion messages)."""
        return b"".join(self.output[-60:]).decode("utf-8", "replace")

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the exit status."""
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await self.wait(timeout)

    async def wait(self, timeout: float = 30.0) -> int:
        """Wait for the exit status (without signalling: a signal to a process that has just
        died would make Popen reap it, and asyncio then reports 255)."""
        status = await asyncio.wait_for(self.process.wait(), timeout)
        if self._drain_task is not None:
            await self._drain_task
        return status
