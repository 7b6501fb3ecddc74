"""Warnings that any client can cause, logged at most once a minute each.

uvicorn logs ``Invalid HTTP request received.`` at warning level for every request it cannot
parse, and ``Unsupported upgrade request.`` for every upgrade it does not serve. A client that
sends garbage in a loop would fill the log (and the disk under it) with one line per request.
:class:`RepeatedWarnings` lets each such message through once per ``interval``; the first one
after a quiet interval says how many were left out meanwhile, so the log still shows the rate.
:func:`limit_client_warnings` installs it on uvicorn's logger (once per process).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Final

__all__ = ["CLIENT_WARNINGS", "RepeatedWarnings", "limit_client_warnings"]

CLIENT_WARNINGS: Final = frozenset(
    {"Invalid HTTP request received.", "Unsupported upgrade request."}
)
"""uvicorn's warnings whose cause is a client's request, not the server."""

_UVICORN_LOGGER: Final = "uvicorn.error"


class RepeatedWarnings(logging.Filter):
    """Lets each of ``messages`` through at most once per ``interval`` seconds.

    Args:
        messages: the log messages (format strings, as logged) to limit; others always pass.
        interval: seconds between two records of the same message.
        clock: the time source (monotonic seconds).
    """

    def __init__(
        self,
        messages: Iterable[str],
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.messages = frozenset(messages)
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._dropped: dict[str, int] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a limited message already logged in the last ``interval`` seconds."""
        message = record.msg
        if not isinstance(message, str) or message not in self.messages:
            return True
        now = self._clock()
        with self._lock:
            last = self._last.get(message)
            if last is not None and now - last < self.interval:
                self._dropped[message] = self._dropped.get(message, 0) + 1
                return False
            self._last[message] = now
            dropped = self._dropped.pop(message, 0)
        if dropped:
            record.msg = f"{message} ({dropped} more since the previous one, not logged)"
        return True


def limit_client_warnings(interval: float = 60.0) -> RepeatedWarnings:
    """Install a :class:`RepeatedWarnings` for :data:`CLIENT_WARNINGS` on uvicorn's logger,
    unless one is there already; return the one in place."""
    logger = logging.getLogger(_UVICORN_LOGGER)
    for existing in logger.filters:
        if isinstance(existing, RepeatedWarnings):
            return existing
    installed = RepeatedWarnings(CLIENT_WARNINGS, interval)
    logger.addFilter(installed)
    return installed
