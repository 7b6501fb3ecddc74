"""Fixtures of the sessionvision tests: one background event loop for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.loop_thread import LoopThread


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()
