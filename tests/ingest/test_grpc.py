"""The gRPC Ingest service over a real channel to a real gateway."""

from __future__ import annotations

import gc
import logging
import tracemalloc
from pathlib import Path

import grpc
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue

from sv_otel._proto.sessionvision.v1 import sessionvision_pb2, sessionvision_pb2_grpc
from sv_otel.ingest.receiver import IngestReceiver
from sv_otel.otlp_json import decode_json
from sv_otel.translate import logs_to_events
from tests.gateway import gateway_config, running

pytestmark = pytest.mark.anyio


def proto_event(name: str, timestamp: int = 1709856000000) -> sessionvision_pb2.Event:
    return sessionvision_pb2.Event(
        event=name,
        timestamp=timestamp,
        session_id="s1",
        user_id="u1",
        properties=[
            KeyValue(key="amount", value=AnyValue(double_value=4.5)),
            KeyValue(
                key="tags", value=AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=1)]))
            ),
        ],
    )


def config(tmp_path: Path, **receiver: object) -> dict[str, object]:
    raw = gateway_config(tmp_path, {"file": None}, **receiver)
    raw["receivers"]["sessionvision"]["protocols"]["grpc"] = {"endpoint": "127.0.0.1:0"}
    return raw


async def test_ingest_accepts_valid_events_and_reports_invalid_ones(tmp_path: Path) -> None:
    async with running(config(tmp_path)) as gateway:
        receiver = gateway.receivers["sessionvision"]
        assert isinstance(receiver, IngestReceiver)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
            stub = sessionvision_pb2_grpc.IngestStub(channel)
            batch = sessionvision_pb2.EventBatch(events=[proto_event("ok"), proto_event("")])
            response = await stub.Ingest(batch)
    assert (response.accepted, response.rejected) == (1, 1)
    assert [(e.index, e.message) for e in response.errors] == [
        (1, 'events[1].event: expected a non-empty string, got ""')
    ]
    (line,) = (tmp_path / "export" / "logs.jsonl").read_bytes().splitlines()
    (event,) = logs_to_events(decode_json(line, ExportLogsServiceRequest))
    assert (event.event, event.user_id, event.anonymous_id) == ("ok", "u1", None)
    assert event.properties == {"amount": 4.5, "tags": [1]}


async def test_ingest_errors_use_grpc_status_codes(tmp_path: Path) -> None:
    raw = config(tmp_path, tokens=["t1"], service={"queue": {"max_size": 200}})
    async with running(raw) as gateway:
        receiver = gateway.receivers["sessionvision"]
        assert isinstance(receiver, IngestReceiver)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
            stub = sessionvision_pb2_grpc.IngestStub(channel)
            one = sessionvision_pb2.EventBatch(events=[proto_event("a")])
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await stub.Ingest(one)
            with pytest.raises(grpc.aio.AioRpcError) as wrong:
                await stub.Ingest(one, metadata=[("authorization", "Bearer t2")])
            invalid = sessionvision_pb2.EventBatch(events=[proto_event("")], token="t1")
            with pytest.raises(grpc.aio.AioRpcError) as bad:
                await stub.Ingest(invalid)
            big = sessionvision_pb2.EventBatch(events=[proto_event("x" * 300)], token="t1")
            with pytest.raises(grpc.aio.AioRpcError) as full:
                await stub.Ingest(big)
            ok = await stub.Ingest(one, metadata=[("x-sessionvision-token", "t1")])
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert wrong.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert wrong.value.details() == "project token is not valid for this endpoint"
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert full.value.code() == grpc.StatusCode.UNAVAILABLE
    trailers = dict(full.value.trailing_metadata() or ())
    info = RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
    assert info.retry_delay.seconds == 1
    assert ok.accepted == 1


CORRUPT_BODIES = [
    (b"\x0a\x05ab", "Wire format was corrupt"),  # an event runs past the end
    (b"\x12\x02\xff\xfe", "String field had bad UTF-8"),  # the token
    (b"\x0a\x03\x0a\x01\xff", "String field had bad UTF-8"),  # an event's name
    (b"\x0f", "Wire format was corrupt"),  # field number 1, wire type 7
]


async def test_ingest_answers_a_body_that_is_not_an_event_batch_invalid_argument(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running(config(tmp_path, tokens=["t1"])) as gateway:
        receiver = gateway.receivers["sessionvision"]
        assert isinstance(receiver, IngestReceiver)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
            raw: grpc.aio.UnaryUnaryMultiCallable[bytes, sessionvision_pb2.IngestResponse]
            raw = channel.unary_unary(
                "/sessionvision.v1.Ingest/Ingest",
                response_deserializer=sessionvision_pb2.IngestResponse.FromString,
            )
            errors = []
            for body, _ in CORRUPT_BODIES:
                with pytest.raises(grpc.aio.AioRpcError) as corrupt:
                    await raw(body, metadata=[("authorization", "Bearer t1")])
                errors.append((corrupt.value.code(), corrupt.value.details()))
            # A token in the metadata is checked before the body is read.
            with pytest.raises(grpc.aio.AioRpcError) as forbidden:
                await raw(CORRUPT_BODIES[0][0], metadata=[("authorization", "Bearer t2")])
            ok = await raw(
                sessionvision_pb2.EventBatch(events=[proto_event("a")]).SerializeToString(),
                metadata=[("authorization", "Bearer t1")],
            )
    assert errors == [
        (
            grpc.StatusCode.INVALID_ARGUMENT,
            f"body: not a valid sessionvision.v1.EventBatch: {problem}",
        )
        for _, problem in CORRUPT_BODIES
    ]
    assert forbidden.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ok.accepted == 1
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_a_refused_batch_is_not_kept_alive_by_its_abort(tmp_path: Path) -> None:
    # grpc.aio's abort raises, and the exception holds the handler's frame in a cycle that only
    # a full collection frees: the frame must not reference the batch by then.
    events = [sessionvision_pb2.Event(event="x" * 100)] * 20_000  # over max_events
    body = sessionvision_pb2.EventBatch(events=events).SerializeToString()
    async with running(config(tmp_path)) as gateway:
        receiver = gateway.receivers["sessionvision"]
        assert isinstance(receiver, IngestReceiver)
        async with grpc.aio.insecure_channel(
            f"127.0.0.1:{receiver.grpc_port}", options=[("grpc.max_send_message_length", -1)]
        ) as channel:
            raw: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes]
            raw = channel.unary_unary("/sessionvision.v1.Ingest/Ingest")
            gc.collect()
            gc.disable()
            tracemalloc.start()
            try:
                for _ in range(3):
                    with pytest.raises(grpc.aio.AioRpcError) as refused:
                        await raw(body)
                    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                del refused
                held = tracemalloc.get_traced_memory()[0]
            finally:
                tracemalloc.stop()
                gc.enable()
    assert len(body) > 2_000_000
    assert held < len(body), f"{held} bytes still held after three refused batches"
