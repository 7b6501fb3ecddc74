"""The receiver's sans-I/O core: request bytes in, events and the encoded response out.

Both transports call :func:`convert_request` with the (decompressed) body and
:func:`encode_response` with the outcome; neither knows how OTLP maps to events. The policy:

* records with a ``session.id`` become events (the translators of :mod:`sv_otel.translate`);
* records without one are *skipped*: counted, not rejected, since that is no client error;
* records that carry a session id but cannot become an event are *rejected*: the response's
  ``partial_success`` gives their number and an English message;
* metrics are decoded (so garbage is still refused) but not converted: a non-empty metrics
  request is answered with a partial-success *warning* (``rejected_data_points`` 0, as the
  specification requires for warnings) saying so.

OTLP/JSON is decoded by :mod:`sv_otel.otlp_json` (hex ids, int64 as strings or numbers, unknown
fields ignored); ids that are not valid hex of the right length are read as absent, as the
protobuf path does with ids of the wrong length ("not associated", in the specification's words).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, NamedTuple

from google.protobuf.message import DecodeError, Message
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)

from sv_otel.errors import InvalidOTLPError
from sv_otel.event import Event
from sv_otel.otlp_json import MAX_DEPTH, decode_json, decode_json_partial, encode_json
from sv_otel.receiver.signals import Signal
from sv_otel.translate import TranslationStats, count_records

__all__ = [
    "EVENT_BYTES",
    "MAX_MESSAGE_CHARS",
    "Conversion",
    "Prepared",
    "convert_request",
    "encode_response",
    "prepare_request",
    "translate_request",
]

MAX_MESSAGE_CHARS: Final = 2000
"""Longest partial-success message; the response stays far below OTLP's 4 MiB response limit."""

EVENT_BYTES: Final = 512
"""What a record is estimated to take in memory once translated, besides its share of the body.

``tracemalloc`` measures about 350 bytes for the event of a record that is nothing but a time
and a ``session.id`` (about 30 bytes on the wire), and 1 300 for a browser event of eight
properties (about 400 bytes on the wire, already counted as body)."""

_TOO_DEEP: Final = (
    f"%s: nested deeper than {MAX_DEPTH} message levels (in it, or in its scope's or "
    "resource's attributes)"
)

_METRIC_KINDS: Final = ("gauge", "sum", "histogram", "exponential_histogram", "summary")


@dataclass(slots=True)
class Conversion:
    """What one request turned into.

    Attributes:
        signal: the request's signal.
        events: the events made, in request order.
        stats: converted / skipped / rejected counts and the first rejection reasons.
        dropped_points: metric data points accepted but not converted.
    """

    signal: Signal
    events: list[Event] = field(default_factory=list)
    stats: TranslationStats = field(default_factory=TranslationStats)
    dropped_points: int = 0

    @property
    def message(self) -> str | None:
        """The partial-success message in English, or None for a plain success."""
        if self.stats.rejected:
            reasons = "; ".join(self.stats.messages)
            records = self.signal.count(self.stats.rejected)
            text = f"{records} could not be converted to sessionvision events"
            return _clip(f"{text}: {reasons}" if reasons else text)
        if self.dropped_points:
            return (
                "metrics are not converted to sessionvision events: "
                f"{self.dropped_points} data points were accepted and dropped; send only logs "
                "and traces to this endpoint"
            )
        return None


class Prepared(NamedTuple):
    """A logs or traces request ready to translate (see :func:`prepare_request`).

    Attributes:
        data: the request as protobuf bytes.
        records: the number of its records (log records or spans).
        left_out: records an OTLP/JSON body held that nest too deep for a message: they were
            left out of ``data``, and are rejected by :func:`translate_request`.
    """

    data: bytes
    records: int
    left_out: int = 0


def convert_request(signal: Signal, data: bytes, *, json: bool) -> Conversion:
    """Decode one ``Export*ServiceRequest`` and translate its records into events.

    The same as :func:`prepare_request` then :func:`translate_request` (metrics: decoded and
    counted only).

    Args:
        signal: the signal the request was sent for.
        data: the decompressed body: protobuf, or OTLP/JSON when ``json`` is true.
        json: whether ``data`` is OTLP/JSON.

    Raises:
        InvalidOTLPError: the body is not a valid request of that signal (400 / INVALID_ARGUMENT).
    """
    if signal.translate is None:
        conversion = Conversion(signal)
        request = _decode_message(signal, data, json=json)
        if isinstance(request, ExportMetricsServiceRequest):
            conversion.dropped_points = _count_points(request)
        return conversion
    return translate_request(signal, prepare_request(signal, data, json=json))


def prepare_request(signal: Signal, data: bytes, *, json: bool) -> Prepared:
    """A logs or traces request as protobuf bytes (OTLP/JSON is decoded), and its record count.

    The count tells what translating it will take (about :data:`EVENT_BYTES` a record) before
    any of it is translated. An OTLP/JSON record nested deeper than protobuf messages may be
    (:data:`~sv_otel.otlp_json.MAX_DEPTH` levels) is left out and counted, to be rejected alone.

    Raises:
        InvalidOTLPError: the body is not a valid request of that signal.
    """
    left_out = 0
    if json:
        request, left_out = decode_json_partial(data, signal.request_type, strict_ids=False)
        data = request.SerializeToString()
    return Prepared(data, count_records(data), left_out)


def translate_request(signal: Signal, prepared: Prepared) -> Conversion:
    """Translate the records of a prepared logs or traces request into events."""
    conversion = Conversion(signal)
    for _ in range(prepared.left_out):
        conversion.stats.reject(_TOO_DEEP % signal.noun)
    if signal.translate is not None:
        conversion.events = signal.translate(prepared.data, conversion.stats)
    return conversion


def encode_response(conversion: Conversion, *, json: bool) -> bytes:
    """Encode the ``Export*ServiceResponse``: ``partial_success`` set only when there is news."""
    response = conversion.signal.response_type()
    message = conversion.message
    if message is not None:
        partial = getattr(response, "partial_success")  # noqa: B009 - one name, three types
        setattr(partial, conversion.signal.rejected_field, conversion.stats.rejected)
        partial.error_message = message
    return encode_json(response) if json else response.SerializeToString()


def _decode_message(signal: Signal, data: bytes, *, json: bool) -> Message:
    if json:
        return decode_json(data, signal.request_type, strict_ids=False)
    try:
        return signal.request_type.FromString(data)
    except (DecodeError, RecursionError):
        raise InvalidOTLPError(
            f"protobuf: not a valid {signal.request_type.DESCRIPTOR.name}"
        ) from None


def _count_points(request: ExportMetricsServiceRequest) -> int:
    count = 0
    for resource_metrics in request.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                if kind in _METRIC_KINDS:
                    count += len(getattr(metric, kind).data_points)
    return count


def _clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE_CHARS else text[: MAX_MESSAGE_CHARS - 3] + "..."
