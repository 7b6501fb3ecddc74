"""A body read inside body_deadline ends in RequestTimeoutError when slower than its timeout."""

from __future__ import annotations

import asyncio

import pytest

from sv_otel.errors import RequestTimeoutError
from sv_otel.server.deadline import body_deadline

pytestmark = pytest.mark.anyio


async def test_a_block_slower_than_the_deadline_raises_request_timeout() -> None:
    with pytest.raises(RequestTimeoutError) as raised, body_deadline(0.05):
        await asyncio.sleep(10)
    assert raised.value.message == "body: not received within 0.05 seconds"
    assert raised.value.status_hint == 408
    await asyncio.sleep(0)  # the task goes on normally


async def test_a_block_within_the_deadline_returns_and_leaves_no_timer() -> None:
    with body_deadline(0.05):
        await asyncio.sleep(0)
    try:
        await asyncio.sleep(0.1)  # past the deadline: its timer must be gone
    except asyncio.CancelledError:
        pytest.fail("the deadline's timer cancelled the task after its block had ended")


async def test_a_cancellation_from_elsewhere_is_not_taken_for_a_timeout() -> None:
    async def read() -> None:
        with body_deadline(10):
            await asyncio.sleep(10)

    task = asyncio.get_running_loop().create_task(read())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
