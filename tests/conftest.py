"""Test-session guards and fixtures shared by every test module."""

from __future__ import annotations

from pathlib import Path

import pytest

_PACKAGE = Path(__file__).resolve().parent.parent / "sv_otel"


def pytest_sessionstart(session: pytest.Session) -> None:
    """Refuse to test stale compiled modules.

    An editable install compiles the hot modules with mypyc next to their sources, and Python
    imports the compiled module in preference to the ``.py``. After editing such a source, the
    tests would silently run the old code; stop with the command that rebuilds instead.
    """
    stale = [
        source.relative_to(_PACKAGE.parent).as_posix()
        for compiled in _PACKAGE.rglob("*.so")
        if (source := compiled.with_name(compiled.name.split(".", 1)[0] + ".py")).exists()
        and source.stat().st_mtime > compiled.stat().st_mtime
    ]
    if stale:
        pytest.exit(
            f"compiled modules are older than their sources ({', '.join(sorted(stale))}): "
            "rebuild with `.venv/bin/pip install -e .` (bash scripts/test does it)",
            returncode=2,
        )


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """One asyncio event loop for every async test (anyio keeps its runner while this lives).

    grpc.aio delivers completions from its poller thread to the loop a channel or server was
    made on; with a loop per test, a late completion of an earlier test's channel could land
    on that test's closed loop, and the error surfaced in whichever test ran then.
    """
    return "asyncio"
