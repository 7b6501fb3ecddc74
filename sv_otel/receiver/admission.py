"""How many bytes of requests a receiver transport holds at once: :class:`InFlightBytes`.

Each transport of an OTLP receiver holds the bodies of the requests it is handling: as received,
decompressed, then converted. ``max_request_bytes`` bounds one request; without a bound on all
of them, a burst of large exports (or a client opening many connections) takes memory without
limit. :class:`InFlightBytes` counts the raw and decompressed bytes held by the requests in
flight, and an estimate of the events they are being converted into
(:data:`~sv_otel.receiver.convert.EVENT_BYTES` a record); a request that would take the count
past ``max_bytes`` is refused with
:class:`~sv_otel.errors.OverloadedError`: 503 / ``UNAVAILABLE`` with a retry hint, which OTLP
exporters honour by sending again later. A request is always admitted when no other is in
flight, so one request of any size up to ``max_request_bytes`` gets through whatever the budget.

A request takes its bytes through a :class:`Hold`, which gives them all back when the request
is answered, however it ends::

    with in_flight.hold() as hold:
        hold.take(len(chunk))  # raises OverloadedError past the budget
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from sv_otel.errors import OverloadedError

__all__ = ["Hold", "InFlightBytes"]


class InFlightBytes:
    """The bytes held by one transport's requests in flight, within ``max_bytes``.

    Args:
        max_bytes: the most bytes held at once (a lone request may exceed it).
        retry_after: seconds a refused client is asked to wait.
        observe: called with every change of :attr:`used` (e.g. a Prometheus gauge's ``inc``).
    """

    __slots__ = ("_observe", "max_bytes", "retry_after", "used")

    def __init__(
        self,
        max_bytes: int,
        *,
        retry_after: float = 1.0,
        observe: Callable[[float], None] | None = None,
    ) -> None:
        self.max_bytes = max_bytes
        self.retry_after = retry_after
        self._observe = observe
        self.used = 0
        """Bytes held now."""

    def hold(self) -> Hold:
        """A new request's hold on the budget (use it as a context manager)."""
        return Hold(self)

    def _take(self, size: int, held: int) -> None:
        if self.used + size > self.max_bytes and self.used > held:
            raise OverloadedError(
                f"receiver: {self.used} bytes of requests in flight, the limit is "
                f"{self.max_bytes}; retry later",
                retry_after=self.retry_after,
            )
        self.used += size
        if self._observe is not None:
            self._observe(size)

    def _give(self, size: int) -> None:
        self.used -= size
        if self._observe is not None and size:
            self._observe(-size)


class Hold:
    """The bytes one request holds; all given back when the ``with`` block ends."""

    __slots__ = ("_budget", "size")

    def __init__(self, budget: InFlightBytes) -> None:
        self._budget = budget
        self.size = 0
        """Bytes this request holds."""

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes.

        Raises:
            OverloadedError: they would take the budget past its limit while other requests
                hold bytes too.
        """
        self._budget._take(size, self.size)
        self.size += size

    def __enter__(self) -> Hold:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._budget._give(self.size)
        self.size = 0
