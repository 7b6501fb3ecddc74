"""OTLP/gRPC over a real grpc.aio server on loopback: every gRPC row of the test matrix."""

from __future__ import annotations

import gzip
from collections.abc import Iterator

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from prometheus_client import REGISTRY

from sv_otel.errors import ConfigurationError, QueueFullError
from sv_otel.receiver import OTLPReceiver, ReceiverSettings, TLSSettings, create_grpc_server
from tests.loop_thread import LoopThread
from tests.receiver.certs import Certificates
from tests.receiver.harness import RecordingSink, running_receiver
from tests.receiver.otlp import (
    SESSION,
    log_record,
    logs_request,
    metrics_request,
    span,
    traces_request,
)

LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
METRICS = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export"


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def receiver(loop: LoopThread, sink: RecordingSink) -> Iterator[OTLPReceiver]:
    with running_receiver(loop, sink, max_request_bytes=64 * 1024, http_address=None) as receiver:
        yield receiver


@pytest.fixture
def channel(receiver: OTLPReceiver) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
        yield channel


Metadata = tuple[tuple[str, str], ...]


def _raw(data: bytes) -> bytes:
    return data


def _call(
    channel: grpc.Channel,
    method: str,
    body: bytes,
    *,
    compression: grpc.Compression | None = None,
    metadata: Metadata | None = None,
) -> bytes:
    stub = channel.unary_unary(method, request_serializer=_raw, response_deserializer=_raw)
    return stub(body, timeout=30, compression=compression, metadata=metadata)


def _error(
    channel: grpc.Channel,
    method: str,
    body: bytes,
    *,
    compression: grpc.Compression | None = None,
    metadata: Metadata | None = None,
) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        _call(channel, method, body, compression=compression, metadata=metadata)
    return caught.value


def _trailers(error: grpc.RpcError) -> dict[str, bytes]:
    call = error
    assert isinstance(call, grpc.Call)
    return {key: value for key, value in call.trailing_metadata() or () if isinstance(value, bytes)}


def _requests(signal: str, outcome: str) -> float:
    labels = {"transport": "grpc", "signal": signal, "outcome": outcome}
    return REGISTRY.get_sample_value("sv_otel_receiver_requests_total", labels) or 0.0


def test_valid_logs_succeed_without_partial_success(
    channel: grpc.Channel, sink: RecordingSink
) -> None:
    before = _requests("logs", "ok")
    response = ExportLogsServiceResponse.FromString(
        _call(channel, LOGS, logs_request(log_record()).SerializeToString())
    )
    assert not response.HasField("partial_success")
    [event] = sink.events
    assert (event.event, event.session_id) == ("$log", SESSION)
    assert _requests("logs", "ok") == before + 1


def test_valid_traces_succeed(channel: grpc.Channel, sink: RecordingSink) -> None:
    response = _call(channel, TRACES, traces_request(span()).SerializeToString())
    assert ExportTraceServiceResponse.FromString(response) == ExportTraceServiceResponse()
    assert [e.event for e in sink.events] == ["$span"]


def test_gzip_compressed_calls_are_accepted(channel: grpc.Channel, sink: RecordingSink) -> None:
    body = logs_request(log_record()).SerializeToString()
    _call(channel, LOGS, body, compression=grpc.Compression.Gzip)
    assert len(sink.events) == 1


@pytest.mark.parametrize("method", [LOGS, TRACES, METRICS])
def test_empty_requests_succeed(channel: grpc.Channel, sink: RecordingSink, method: str) -> None:
    assert _call(channel, method, b"") == b""
    assert sink.batches == []


def test_garbage_gets_invalid_argument_with_bad_request(channel: grpc.Channel) -> None:
    before = _requests("traces", "invalid")
    error = _error(channel, TRACES, b"\xff\xff\xff")
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == "protobuf: truncated message"
    status = Status.FromString(_trailers(error)["grpc-status-details-bin"])
    assert (status.code, status.message) == (3, "protobuf: truncated message")
    assert status.details[0].type_url == "type.googleapis.com/google.rpc.BadRequest"
    assert _requests("traces", "invalid") == before + 1


def test_over_the_limit_gets_resource_exhausted(channel: grpc.Channel) -> None:
    error = _error(channel, LOGS, b"\x0a\x00" * 40_000)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_limit_applies_after_decompression(channel: grpc.Channel, sink: RecordingSink) -> None:
    records = [log_record(body="x" * 1000) for _ in range(100)]  # ~120 KB, gzips to ~3 KB
    body = logs_request(*records).SerializeToString()
    assert len(gzip.compress(body)) < 64 * 1024 < len(body)
    error = _error(channel, LOGS, body, compression=grpc.Compression.Gzip)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert sink.batches == []


def test_unconvertible_records_get_partial_success(
    channel: grpc.Channel, sink: RecordingSink
) -> None:
    broken = log_record()
    broken.time_unix_nano = 0
    response = ExportLogsServiceResponse.FromString(
        _call(channel, LOGS, logs_request(broken, log_record(), broken).SerializeToString())
    )
    assert response.partial_success.rejected_log_records == 2
    assert response.partial_success.error_message.startswith(
        "2 log records could not be converted to sessionvision events: log record: neither "
    )
    assert len(sink.events) == 1


def test_metrics_get_a_warning(channel: grpc.Channel) -> None:
    response = ExportMetricsServiceResponse.FromString(
        _call(channel, METRICS, metrics_request(2).SerializeToString())
    )
    assert response.partial_success.rejected_data_points == 0
    assert response.partial_success.error_message == (
        "metrics are not converted to sessionvision events: 2 data points were accepted and "
        "dropped; send only logs and traces to this endpoint"
    )


def test_full_queue_gets_unavailable_with_retry_info_in_both_trailers(
    channel: grpc.Channel, sink: RecordingSink
) -> None:
    sink.refusals.append(QueueFullError("queue: full", retry_after=0.25))
    error = _error(channel, LOGS, logs_request(log_record()).SerializeToString())
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "queue: full"
    trailers = _trailers(error)
    status = Status.FromString(trailers["grpc-status-details-bin"])
    assert (status.code, status.message) == (14, "queue: full")
    in_status = RetryInfo()
    assert status.details[0].Unpack(in_status)
    alone = RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert in_status == alone
    assert alone.retry_delay.ToMilliseconds() == 250


def test_bearer_token_is_required_when_set(loop: LoopThread, sink: RecordingSink) -> None:
    body = logs_request(log_record()).SerializeToString()
    with (
        running_receiver(loop, sink, bearer_token="s3cret", http_address=None) as receiver,
        grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel,
    ):
        missing = _error(channel, LOGS, body)
        wrong = _error(channel, LOGS, body, metadata=(("authorization", "Bearer nope"),))
        _call(channel, LOGS, body, metadata=(("authorization", "Bearer s3cret"),))
    assert missing.code() == wrong.code() == grpc.StatusCode.UNAUTHENTICATED
    assert missing.details() == "authorization: missing; send 'Authorization: Bearer <token>'"
    assert wrong.details() == "authorization: invalid bearer token"
    assert len(sink.events) == 1


def test_tls(loop: LoopThread, sink: RecordingSink, certificates: Certificates) -> None:
    tls = TLSSettings(str(certificates.server_cert), str(certificates.server_key))
    credentials = grpc.ssl_channel_credentials(certificates.ca.read_bytes())
    body = logs_request(log_record()).SerializeToString()
    with (
        running_receiver(loop, sink, tls=tls, http_address=None) as receiver,
        grpc.secure_channel(f"127.0.0.1:{receiver.grpc_port}", credentials) as channel,
    ):
        _call(channel, LOGS, body)
    assert len(sink.events) == 1


def test_mutual_tls_refuses_clients_without_a_certificate(
    loop: LoopThread, sink: RecordingSink, certificates: Certificates
) -> None:
    tls = TLSSettings(
        str(certificates.server_cert), str(certificates.server_key), str(certificates.ca)
    )
    ca = certificates.ca.read_bytes()
    with_cert = grpc.ssl_channel_credentials(
        ca, certificates.client_key.read_bytes(), certificates.client_cert.read_bytes()
    )
    body = logs_request(log_record()).SerializeToString()
    with running_receiver(loop, sink, tls=tls, http_address=None) as receiver:
        address = f"127.0.0.1:{receiver.grpc_port}"
        with grpc.secure_channel(address, with_cert) as channel:
            _call(channel, LOGS, body)
        with grpc.secure_channel(address, grpc.ssl_channel_credentials(ca)) as channel:
            error = _error(channel, LOGS, body)
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert len(sink.events) == 1


def test_unreadable_tls_files_are_a_configuration_error(loop: LoopThread) -> None:
    settings = ReceiverSettings(
        grpc_address="127.0.0.1:0", tls=TLSSettings("/nonexistent/cert.pem", "/nonexistent/key")
    )

    async def build() -> None:
        create_grpc_server(RecordingSink(), settings)

    with pytest.raises(ConfigurationError) as caught:
        loop.run(build())
    assert caught.value.message == (
        "TLSSettings.key_file: cannot read /nonexistent/key: No such file or directory"
    )


def test_100k_record_request(loop: LoopThread, sink: RecordingSink) -> None:
    body = logs_request(*[log_record(body=str(i)) for i in range(100_000)]).SerializeToString()
    assert len(body) > 4 * 1024 * 1024  # over grpcio's own default, within the 64 MiB default
    with (
        running_receiver(loop, sink, http_address=None) as receiver,
        grpc.insecure_channel(
            f"127.0.0.1:{receiver.grpc_port}",
            options=(("grpc.max_send_message_length", 64 * 1024 * 1024),),
        ) as channel,
    ):
        assert _call(channel, LOGS, body, compression=grpc.Compression.Gzip) == b""
    assert len(sink.events) == 100_000
    assert [e.properties["body"] for e in sink.events[::50_000]] == ["0", "50000"]


def test_a_broken_sink_gets_internal(channel: grpc.Channel, sink: RecordingSink) -> None:
    sink.refusals.append(RuntimeError("disk on fire"))
    error = _error(channel, LOGS, logs_request(log_record()).SerializeToString())
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error; see the receiver's log"


def test_a_sink_per_signal_and_no_sink_gets_unimplemented(loop: LoopThread) -> None:
    logs = RecordingSink()
    with (
        running_receiver(loop, {"logs": logs}, http_address=None) as receiver,
        grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel,
    ):
        error = _error(channel, TRACES, traces_request(span()).SerializeToString())
        _call(channel, LOGS, logs_request(log_record()).SerializeToString())
        _call(channel, METRICS, metrics_request(1).SerializeToString())
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED
    assert error.details() == "traces: not accepted by this receiver (it feeds no traces pipeline)"
    assert [e.event for e in logs.events] == ["$log"]
