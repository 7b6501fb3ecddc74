"""A deadline for reading a request body: :func:`body_deadline`.

A client that sends its headers and then trickles its body (slow-loris) would hold its request,
and the memory and connection behind it, for as long as it likes. Every HTTP endpoint that reads
a body through ASGI (the ingest endpoint, OTLP/HTTP, the session start route) reads it inside
``body_deadline(timeout)``, which turns a body slower than ``timeout`` seconds into
:class:`~sv_otel.errors.RequestTimeoutError` (408). Direct routes of the HTTP protocol keep
their own timer (:mod:`sv_otel.server.protocol`) and report the same error,
:func:`body_timed_out`.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from typing import Final

from sv_otel.errors import RequestTimeoutError

__all__ = ["DEFAULT_BODY_TIMEOUT", "body_deadline", "body_timed_out"]

DEFAULT_BODY_TIMEOUT: Final = 10.0
"""Seconds a request body may take by default on the ingest endpoint and the routes it carries."""


@contextlib.contextmanager
def body_deadline(timeout: float) -> Iterator[None]:
    """Bound the awaits of the block to ``timeout`` seconds in all, for reading a body.

    One timer cancels the current task, rather than a task per request as ``wait_for`` would
    start; the cancellation it caused becomes :func:`body_timed_out` (any other propagates).

    Raises:
        RequestTimeoutError: the block took longer than ``timeout`` seconds.
    """
    task = asyncio.current_task()
    assert task is not None
    expired = False

    def expire() -> None:
        nonlocal expired
        expired = True
        task.cancel()

    timer = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        yield
    except asyncio.CancelledError:
        if not expired:
            raise
        if sys.version_info >= (3, 11):
            task.uncancel()
        raise body_timed_out(timeout) from None
    finally:
        timer.cancel()


def body_timed_out(timeout: float) -> RequestTimeoutError:
    """The error for a body that took longer than ``timeout`` seconds."""
    return RequestTimeoutError(f"body: not received within {timeout:g} seconds")
