"""What both transports do with a decoded-size-checked body: convert, submit, respond.

The transports own framing (HTTP headers, gRPC metadata, decompression, limits); this owns the
order of the rest: convert the records, hand the events to the :class:`~sv_otel.EventSink` (which
may refuse with :class:`~sv_otel.errors.QueueFullError`), count, and encode the response.
Conversion of big bodies runs in a worker thread so that one 64 MiB request does not stall every
other connection of the event loop. Before any record is translated, the request's records are
counted and their events charged to the in-flight budget: two bytes of protobuf can become a
few hundred bytes of event, so the bodies alone do not say what a request will take.

A handler has one sink for every signal, or one per signal (``{"logs": ..., "traces": ...}``, as
``sv-otel serve`` routes each signal to its own pipelines); a signal without a sink is not served.
A sink that also implements :class:`RoomCheck` is asked before the conversion, so a request
that would certainly be refused for lack of room costs no decoding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Final, Protocol, TypeAlias, TypeVar, runtime_checkable

from sv_otel.components import EventSink
from sv_otel.errors import PayloadTooLargeError
from sv_otel.receiver.admission import Hold, InFlightBytes
from sv_otel.receiver.convert import (
    EVENT_BYTES,
    Conversion,
    convert_request,
    encode_response,
    prepare_request,
    translate_request,
)
from sv_otel.receiver.metrics import IN_FLIGHT_BYTES, count_conversion
from sv_otel.receiver.settings import DEFAULT_MAX_IN_FLIGHT_BYTES
from sv_otel.receiver.signals import SIGNALS, Signal

__all__ = ["OFFLOAD_BYTES", "ExportHandler", "RoomCheck", "Sinks"]

Sinks: TypeAlias = EventSink | Mapping[str, EventSink]
"""One sink for every signal, or a sink per signal name (``logs``, ``traces``)."""

_T = TypeVar("_T")

OFFLOAD_BYTES: Final = 1024 * 1024
"""Bodies larger than this are converted in a worker thread."""


@runtime_checkable
class RoomCheck(Protocol):
    """A sink that can tell, before a request is converted, that it would refuse it."""

    def check_room(self, size: int) -> None:
        """Raise :class:`~sv_otel.errors.QueueFullError` if a request body of ``size`` bytes
        would certainly be refused now; return otherwise (the submit may still refuse)."""
        ...


class ExportHandler:
    """Turns one OTLP export request into events for a sink, and answers it.

    Args:
        sink: where converted events go: one sink, or one per signal name (see :data:`Sinks`).
        offload_bytes: bodies above this size are converted off the event loop.
        max_in_flight_bytes: the budget of :attr:`in_flight`.
        transport: ``http`` or ``grpc``, the label of the in-flight bytes gauge.
    """

    def __init__(
        self,
        sink: Sinks,
        *,
        offload_bytes: int = OFFLOAD_BYTES,
        max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES,
        transport: str = "http",
    ) -> None:
        self.in_flight = InFlightBytes(
            max_in_flight_bytes, observe=IN_FLIGHT_BYTES.labels(transport).inc
        )
        """The bytes of the requests in flight (the transport takes them as it reads them)."""
        if isinstance(sink, Mapping):
            self._sinks = dict(sink)
        else:
            self._sinks = {s.name: sink for s in SIGNALS if s.translate is not None}
        self._room_checks = {
            name: sink.check_room
            for name, sink in self._sinks.items()
            if isinstance(sink, RoomCheck)
        }
        self._offload_bytes = offload_bytes

    def serves(self, signal: Signal) -> bool:
        """Whether ``signal`` is served: it has a sink, or it never needs one (metrics)."""
        return signal.translate is None or signal.name in self._sinks

    async def export(
        self, signal: Signal, data: bytes, *, json: bool, hold: Hold | None = None
    ) -> tuple[bytes, bool]:
        """Handle one request body.

        Args:
            signal: the signal of the endpoint or service called.
            data: the decompressed body.
            json: whether ``data`` (and so the response) is OTLP/JSON.
            hold: the request's hold on :attr:`in_flight`, which the events it will be
                translated into are charged to (:data:`EVENT_BYTES` a record) before they are
                made.

        Returns:
            The encoded ``Export*ServiceResponse`` and whether it is a partial success.

        Raises:
            InvalidOTLPError: the body does not decode.
            PayloadTooLargeError: so many records that their events alone would take more than
                the in-flight budget (413 / ``RESOURCE_EXHAUSTED``).
            OverloadedError: their events would take the budget past its limit while other
                requests are in flight (503 / ``UNAVAILABLE``, retried).
            QueueFullError: the sink has no room; nothing of the request was kept.
        """
        check_room = self._room_checks.get(signal.name)
        if check_room is not None:
            check_room(len(data))
        offload = len(data) > self._offload_bytes
        if signal.translate is None:
            conversion = await self._run(offload, convert_request, signal, data, json=json)
        else:
            prepared = await self._run(offload, prepare_request, signal, data, json=json)
            self._charge(signal, prepared.records, hold)
            conversion = await self._run(offload, translate_request, signal, prepared)
        if conversion.events:
            await self._sinks[signal.name].submit(conversion.events)
        count_conversion(conversion)
        return self._respond(conversion, json=json)

    def _charge(self, signal: Signal, records: int, hold: Hold | None) -> None:
        size = records * EVENT_BYTES
        limit = self.in_flight.max_bytes
        if size > limit:
            raise PayloadTooLargeError(
                f"request: {signal.count(records)}, whose events would take about {size} bytes, "
                f"more than the {limit} bytes all requests in flight may hold "
                "(max_in_flight_bytes); send fewer in each request"
            )
        if hold is not None:
            hold.take(size)

    @staticmethod
    async def _run(
        offload: bool, function: Callable[..., _T], *args: object, **kwargs: object
    ) -> _T:
        """``function(*args, **kwargs)``, in a worker thread when ``offload``."""
        if offload:
            return await asyncio.to_thread(function, *args, **kwargs)
        return function(*args, **kwargs)

    @staticmethod
    def _respond(conversion: Conversion, *, json: bool) -> tuple[bytes, bool]:
        return encode_response(conversion, json=json), conversion.message is not None
