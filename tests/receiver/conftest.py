"""Fixtures of the receiver tests: one background event loop for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.loop_thread import LoopThread
from tests.receiver.certs import Certificates, make_certificates


@pytest.fixture(scope="session")
def loop() -> Iterator[LoopThread]:
    thread = LoopThread()
    yield thread
    thread.close()


@pytest.fixture(scope="session")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))
