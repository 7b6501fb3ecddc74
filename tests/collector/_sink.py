"""An OTLP/gRPC sink for the Collector tests: grpc.aio services on 127.0.0.1 that record requests.

The sink stands in for whatever a Collector exports to (a backend, an sv_otel instance). It runs
its own event loop on a background thread, so a plain test function can drive the OTel SDK and the
Collector synchronously while the sink serves. It can refuse its first calls the way a throttling
server does: gRPC ``UNAVAILABLE`` with a ``google.rpc.RetryInfo`` delay, sent both in the standard
``grpc-status-details-bin`` trailer (read by the Collector's Go exporters) and in
``google.rpc.retryinfo-bin`` (read by the Python SDK's exporters).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

import grpc
from google.protobuf.any_pb2 import Any as PB2Any
from google.protobuf.duration_pb2 import Duration
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2, metrics_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from sv_otel.event import Event
from sv_otel.translate import logs_to_events

_START_TIMEOUT = 10.0
_UNAVAILABLE = 14
_RETRY_INFO_TYPE_URL = "type.googleapis.com/google.rpc.RetryInfo"

_Request = TypeVar(
    "_Request",
    logs_service_pb2.ExportLogsServiceRequest,
    trace_service_pb2.ExportTraceServiceRequest,
    metrics_service_pb2.ExportMetricsServiceRequest,
)


@dataclass(frozen=True, slots=True)
class Record:
    """One log record or span as a sink received it, flattened for assertions.

    Attributes:
        signal: ``"logs"`` or ``"traces"``.
        name: the log record's ``event_name`` or body string, or the span's name.
        attributes: the record's (or span's) attributes with string values.
        resource: the resource's attributes with string values.
    """

    signal: str
    name: str
    attributes: dict[str, str]
    resource: dict[str, str]


def _strings(attributes: Iterable[KeyValue]) -> dict[str, str]:
    return {kv.key: kv.value.string_value for kv in attributes}


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def retry_info_bytes(delay: Duration) -> bytes:
    """A serialized ``google.rpc.RetryInfo {Duration retry_delay = 1}``.

    Written out here because googleapis-common-protos ships no type information.
    """
    return _field(1, delay.SerializeToString())


def status_bytes(code: int, message: str, retry_info: bytes) -> bytes:
    """A serialized ``google.rpc.Status {int32 code = 1; string message = 2; repeated Any
    details = 3}`` whose one detail is ``retry_info``."""
    detail = PB2Any(type_url=_RETRY_INFO_TYPE_URL, value=retry_info)
    return (
        _varint(1 << 3)
        + _varint(code)
        + _field(2, message.encode())
        + _field(3, detail.SerializeToString())
    )


class OTLPSink:
    """An OTLP/gRPC logs, traces and metrics server on ``127.0.0.1``.

    Use it as a context manager; ``port=0`` binds a free port (read it from ``port``), a given port
    lets a test start the sink after the Collector was already pointed at it.

    Args:
        refusals: how many ``Export`` calls, counted over all signals, to refuse first with
            ``UNAVAILABLE`` and a RetryInfo before accepting.
        retry_delay: the RetryInfo delay of those refusals, in seconds.
        port: the port to bind on 127.0.0.1, 0 for a free one.
    """

    def __init__(self, *, refusals: int = 0, retry_delay: float = 0.5, port: int = 0) -> None:
        self.port = port
        self._refusals_left = refusals
        self._retry_delay = retry_delay
        self._lock = threading.Condition()
        self._logs: list[logs_service_pb2.ExportLogsServiceRequest] = []
        self._traces: list[trace_service_pb2.ExportTraceServiceRequest] = []
        self._metrics: list[metrics_service_pb2.ExportMetricsServiceRequest] = []
        self.calls = 0
        self.refused = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: grpc.aio.Server | None = None

    @property
    def endpoint(self) -> str:
        """``127.0.0.1:<port>``, the form the Collector's OTLP/gRPC exporters take."""
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> OTLPSink:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._start(), self._loop)
        self.port = future.result(_START_TIMEOUT)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None:
            asyncio.run_coroutine_threadsafe(self._server.stop(None), self._loop).result(
                _START_TIMEOUT
            )
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(_START_TIMEOUT)
        self._loop.close()

    async def _start(self) -> int:
        server = grpc.aio.server()
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(_LogsServicer(self), server)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(_TraceServicer(self), server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(
            _MetricsServicer(self), server
        )
        port = server.add_insecure_port(f"127.0.0.1:{self.port}")
        await server.start()
        self._server = server
        return port

    def _admit(self) -> bool:
        """Count a call; False while refusals are left (the caller then refuses it)."""
        with self._lock:
            self.calls += 1
            if self._refusals_left > 0:
                self._refusals_left -= 1
                self.refused += 1
                return False
            return True

    async def _refuse(self, context: grpc.aio.ServicerContext[object, object]) -> None:
        delay = Duration()
        delay.FromNanoseconds(int(self._retry_delay * 1e9))
        message = "sink is shedding load; retry later"
        retry_info = retry_info_bytes(delay)
        await context.abort(
            grpc.StatusCode.UNAVAILABLE,
            message,
            trailing_metadata=(
                ("grpc-status-details-bin", status_bytes(_UNAVAILABLE, message, retry_info)),
                ("google.rpc.retryinfo-bin", retry_info),
            ),
        )

    def _store(self, target: list[_Request], request: _Request) -> None:
        with self._lock:
            target.append(request)
            self._lock.notify_all()

    def records(self) -> list[Record]:
        """Every log record and span received so far, in arrival order (logs first)."""
        with self._lock:
            logs = list(self._logs)
            traces = list(self._traces)
        out: list[Record] = []
        for request in logs:
            for rl in request.resource_logs:
                resource = _strings(rl.resource.attributes)
                for sl in rl.scope_logs:
                    for lr in sl.log_records:
                        name = lr.event_name or lr.body.string_value
                        out.append(Record("logs", name, _strings(lr.attributes), resource))
        for trace_request in traces:
            for rs in trace_request.resource_spans:
                resource = _strings(rs.resource.attributes)
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        attributes = _strings(span.attributes)
                        out.append(Record("traces", span.name, attributes, resource))
        return out

    def events(self) -> list[Event]:
        """The sessionvision events of every log request received so far, in arrival order.

        sv_otel's own log records come back as the events they were made from (lifecycle events
        included), as sv_otel's receiver reads them.
        """
        with self._lock:
            logs = list(self._logs)
        return [event for request in logs for event in logs_to_events(request)]

    def metric_names(self) -> list[str]:
        """The names of every metric received so far."""
        with self._lock:
            requests = list(self._metrics)
        return [
            metric.name
            for request in requests
            for rm in request.resource_metrics
            for sm in rm.scope_metrics
            for metric in sm.metrics
        ]

    def wait_until(self, predicate: Callable[[OTLPSink], bool], timeout: float = 30.0) -> None:
        """Block until ``predicate(self)`` holds, re-checking whenever a request arrives.

        Raises:
            AssertionError: when ``timeout`` seconds pass first; the message lists what arrived.
        """
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                with self._lock:
                    raise AssertionError(
                        f"sink {self.endpoint}: condition not met after {timeout} s; "
                        f"{self.calls} calls ({self.refused} refused), "
                        f"{len(self._logs)} logs, {len(self._traces)} traces, "
                        f"{len(self._metrics)} metrics requests"
                    )
            with self._lock:
                # Woken by every stored request; the cap covers one that lands between the
                # predicate and this wait.
                self._lock.wait(min(remaining, 0.25))


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, sink: OTLPSink) -> None:
        self._sink = sink

    async def Export(
        self,
        request: logs_service_pb2.ExportLogsServiceRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> logs_service_pb2.ExportLogsServiceResponse:
        if not self._sink._admit():
            await self._sink._refuse(context)
        self._sink._store(self._sink._logs, request)
        return logs_service_pb2.ExportLogsServiceResponse()


class _TraceServicer(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self, sink: OTLPSink) -> None:
        self._sink = sink

    async def Export(
        self,
        request: trace_service_pb2.ExportTraceServiceRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> trace_service_pb2.ExportTraceServiceResponse:
        if not self._sink._admit():
            await self._sink._refuse(context)
        self._sink._store(self._sink._traces, request)
        return trace_service_pb2.ExportTraceServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, sink: OTLPSink) -> None:
        self._sink = sink

    async def Export(
        self,
        request: metrics_service_pb2.ExportMetricsServiceRequest,
        context: grpc.aio.ServicerContext[object, object],
    ) -> metrics_service_pb2.ExportMetricsServiceResponse:
        if not self._sink._admit():
            await self._sink._refuse(context)
        self._sink._store(self._sink._metrics, request)
        return metrics_service_pb2.ExportMetricsServiceResponse()
