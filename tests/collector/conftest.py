"""Fixtures for the tests that run the real OpenTelemetry Collector."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.collector._otelcol import BUILD_SCRIPT
from tests.loop_thread import LoopThread

_BUILD_TIMEOUT = 3600


@pytest.fixture(scope="session")
def otelcol() -> Path:
    """sv_otel's Collector binary, built by ``collector_config/build-collector.sh`` (cached).

    The first build on a machine takes minutes; later runs return the cached binary at once. Tests
    skip only when Go is missing and no built binary is cached; a failing build fails them.
    """
    result = subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        timeout=_BUILD_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        if shutil.which("go") is None:
            pytest.skip(
                "Go is not installed, so collector_config/build-collector.sh cannot build the "
                "OpenTelemetry Collector these tests run"
            )
        pytest.fail(
            f"collector_config/build-collector.sh failed with status {result.returncode}:\n"
            + result.stderr[-6000:]
        )
    binary = Path(result.stdout.strip().splitlines()[-1])
    assert binary.is_file(), f"build-collector.sh printed {binary}, which is not a file"
    return binary


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    """A background event loop for the ``sv-otel serve`` processes these tests run."""
    thread = LoopThread()
    yield thread
    thread.close()
