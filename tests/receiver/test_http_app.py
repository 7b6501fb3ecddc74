"""OTLP/HTTP over a real server on loopback: every HTTP row of the receiver test matrix."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import httpx
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from prometheus_client import REGISTRY

from sv_otel.errors import QueueFullError
from sv_otel.otlp_json import encode_json
from sv_otel.receiver import OTLPReceiver
from tests.loop_thread import LoopThread
from tests.receiver.harness import RecordingSink, running_receiver
from tests.receiver.otlp import (
    SESSION,
    log_record,
    logs_request,
    metrics_request,
    span,
    traces_request,
)

PROTOBUF = {"Content-Type": "application/x-protobuf"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def receiver(loop: LoopThread, sink: RecordingSink) -> Iterator[OTLPReceiver]:
    with running_receiver(loop, sink, max_request_bytes=64 * 1024) as receiver:
        yield receiver


@pytest.fixture
def http(receiver: OTLPReceiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"http://127.0.0.1:{receiver.http_port}") as client:
        yield client


def _requests(signal: str, outcome: str) -> float:
    labels = {"transport": "http", "signal": signal, "outcome": outcome}
    return REGISTRY.get_sample_value("sv_otel_receiver_requests_total", labels) or 0.0


def _status(response: httpx.Response) -> Status:
    if response.headers["content-type"] == "application/json":
        document = response.json()
        status = Status(code=document.get("code", 0), message=document["message"])
        return status
    return Status.FromString(response.content)


def test_protobuf_request_gets_protobuf_success(http: httpx.Client, sink: RecordingSink) -> None:
    before = _requests("logs", "ok")
    response = http.post(
        "/v1/logs", content=logs_request(log_record()).SerializeToString(), headers=PROTOBUF
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-protobuf"
    assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()
    assert not ExportLogsServiceResponse.FromString(response.content).HasField("partial_success")
    [event] = sink.events
    assert (event.event, event.session_id) == ("$log", SESSION)
    assert _requests("logs", "ok") == before + 1


def test_json_request_gets_json_success(http: httpx.Client, sink: RecordingSink) -> None:
    body = encode_json(traces_request(span()))
    response = http.post(
        "/v1/traces", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    assert [e.event for e in sink.events] == ["$span"]


@pytest.mark.parametrize("headers", [PROTOBUF, JSON])
def test_gzip_bodies_are_accepted(
    http: httpx.Client, sink: RecordingSink, headers: dict[str, str]
) -> None:
    request = logs_request(log_record())
    raw = request.SerializeToString() if headers is PROTOBUF else encode_json(request)
    response = http.post(
        "/v1/logs", content=gzip.compress(raw), headers={**headers, "Content-Encoding": "gzip"}
    )
    assert response.status_code == 200
    assert len(sink.events) == 1


@pytest.mark.parametrize(
    ("headers", "body"), [(PROTOBUF, b""), (JSON, b"{}"), (JSON, b'{"resourceLogs":[]}')]
)
def test_empty_requests_succeed(
    http: httpx.Client, sink: RecordingSink, headers: dict[str, str], body: bytes
) -> None:
    response = http.post("/v1/logs", content=body, headers=headers)
    assert response.status_code == 200
    assert sink.batches == []


def test_garbage_protobuf_gets_400_with_a_protobuf_status(http: httpx.Client) -> None:
    before = _requests("logs", "invalid")
    response = http.post("/v1/logs", content=b"\xff\xff\xff\xff", headers=PROTOBUF)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/x-protobuf"
    status = Status.FromString(response.content)
    assert (status.code, status.message) == (3, "protobuf: truncated message")
    assert status.details[0].type_url == "type.googleapis.com/google.rpc.BadRequest"
    assert _requests("logs", "invalid") == before + 1


def test_garbage_json_gets_400_with_a_json_status(http: httpx.Client) -> None:
    response = http.post("/v1/logs", content=b"1234", headers=JSON)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "code": 3,
        "message": "body: expected object, got number",
        "details": [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [
                    {"field": "body", "description": "body: expected object, got number"}
                ],
            }
        ],
    }


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        (None, "Content-Type: missing; use application/x-protobuf or application/json"),
        (
            "text/plain",
            "Content-Type: 'text/plain' is not supported; use application/x-protobuf or "
            "application/json",
        ),
    ],
)
def test_other_content_types_get_415(
    http: httpx.Client, content_type: str | None, message: str
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = http.post("/v1/logs", content=b"{}", headers=headers)
    assert response.status_code == 415
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"code": 3, "message": message}


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_other_methods_get_405(http: httpx.Client, method: str) -> None:
    response = http.request(method, "/v1/traces")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {"code": 12, "message": f"{method}: use POST"}


def test_unknown_paths_get_404(http: httpx.Client) -> None:
    response = http.post("/v1/profiles", content=b"", headers=PROTOBUF)
    assert response.status_code == 404
    assert _status(response).message == "/v1/profiles: no such endpoint"


@pytest.mark.parametrize("path", ["/v1/logs/", "/v1/traces//"])
def test_a_trailing_slash_gets_404_naming_the_path(http: httpx.Client, path: str) -> None:
    response = http.post(path, content=b"", headers=PROTOBUF)
    assert response.status_code == 404
    right = path.rstrip("/")
    assert _status(response).message == f"{path}: no such endpoint (the OTLP/HTTP path is {right})"


@pytest.mark.parametrize(
    ("encoding", "body", "message"),
    [
        (
            "gzip",
            b"\x1f\x8bnot really",
            "body: invalid gzip data (Error -3 while decompressing data: unknown compression "
            "method)",
        ),
        ("gzip", gzip.compress(b"\x0a\x00")[:-4], "body: truncated gzip stream"),
        (
            "br",
            b"\x0a\x00",
            "Content-Encoding: unsupported encoding 'br'; use gzip, deflate or identity",
        ),
    ],
)
@pytest.mark.parametrize("headers", [PROTOBUF, JSON])
def test_bad_content_encoding_gets_400(
    http: httpx.Client, headers: dict[str, str], encoding: str, body: bytes, message: str
) -> None:
    response = http.post(
        "/v1/logs", content=body, headers={**headers, "Content-Encoding": encoding}
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == headers["Content-Type"]
    status = _status(response)
    assert (status.code, status.message) == (3, message)


def test_limit_is_exact_and_applies_to_the_raw_body(http: httpx.Client) -> None:
    # 64 KiB limit: a body of exactly 64 KiB is read (and fails to decode), one more byte is 413.
    at_limit = http.post("/v1/logs", content=b"\x00" * 65536, headers=PROTOBUF)
    assert at_limit.status_code == 400
    assert _status(at_limit).message == "protobuf: field number 0 is not valid"
    over = http.post("/v1/logs", content=b"\x00" * 65537, headers=PROTOBUF)
    assert over.status_code == 413
    assert _status(over).message == "body: Content-Length 65537 is over the limit of 65536 bytes"
    assert _status(over).code == 8


def test_limit_applies_after_decompression(http: httpx.Client) -> None:
    before = _requests("logs", "too_large")
    bomb = gzip.compress(bytes(50 * 1024 * 1024), compresslevel=9)
    response = http.post("/v1/logs", content=bomb, headers={**JSON, "Content-Encoding": "gzip"})
    assert response.status_code == 413
    assert response.json() == {
        "code": 8,
        "message": "body: decompresses to more than the limit of 65536 bytes",
    }
    assert _requests("logs", "too_large") == before + 1


def test_streamed_body_over_the_limit_gets_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"\x00" * 8192

    response = http.post("/v1/logs", content=chunks(), headers=PROTOBUF)
    assert response.status_code == 413
    assert _status(response).message == "body: more than the limit of 65536 bytes"


def test_unconvertible_records_get_partial_success(http: httpx.Client, sink: RecordingSink) -> None:
    broken = log_record()
    broken.time_unix_nano = 0
    body = encode_json(logs_request(broken, log_record()))
    response = http.post("/v1/logs", content=body, headers=JSON)
    assert response.status_code == 200
    assert response.json() == {
        "partialSuccess": {
            "rejectedLogRecords": "1",
            "errorMessage": "1 log record could not be converted to sessionvision events: "
            "log record: neither time_unix_nano nor observed_time_unix_nano is set",
        }
    }
    assert len(sink.events) == 1


def test_metrics_are_accepted_with_a_warning(http: httpx.Client, sink: RecordingSink) -> None:
    response = http.post("/v1/metrics", content=encode_json(metrics_request(4)), headers=JSON)
    assert response.status_code == 200
    assert response.json() == {
        "partialSuccess": {
            "errorMessage": "metrics are not converted to sessionvision events: 4 data points "
            "were accepted and dropped; send only logs and traces to this endpoint"
        }
    }
    assert sink.batches == []


def test_full_queue_gets_503_with_retry_after(http: httpx.Client, sink: RecordingSink) -> None:
    sink.refusals.append(QueueFullError("queue: full (10000 batches)", retry_after=2.5))
    before = _requests("logs", "throttled")
    body = logs_request(log_record()).SerializeToString()
    response = http.post("/v1/logs", content=body, headers=PROTOBUF)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "3"
    status = Status.FromString(response.content)
    assert (status.code, status.message) == (14, "queue: full (10000 batches)")
    retry = RetryInfo()
    assert status.details[0].Unpack(retry)
    assert retry.retry_delay.ToMilliseconds() == 2500
    assert sink.batches == []
    assert _requests("logs", "throttled") == before + 1
    again = http.post("/v1/logs", content=body, headers=PROTOBUF)
    assert again.status_code == 200
    assert len(sink.events) == 1


def test_records_without_session_are_counted(http: httpx.Client, sink: RecordingSink) -> None:
    def skipped() -> float:
        return (
            REGISTRY.get_sample_value("sv_otel_receiver_records_skipped_total", {"signal": "logs"})
            or 0.0
        )

    before = skipped()
    body = logs_request(
        log_record(session_id=None), log_record(session_id=None)
    ).SerializeToString()
    response = http.post("/v1/logs", content=body, headers=PROTOBUF)
    assert response.status_code == 200
    assert ExportLogsServiceResponse.FromString(response.content) == ExportLogsServiceResponse()
    assert skipped() == before + 2
    assert sink.batches == []


def test_100k_record_request(loop: LoopThread, sink: RecordingSink) -> None:
    records = [log_record(body=f"line {i}") for i in range(100_000)]
    body = logs_request(*records).SerializeToString()
    with running_receiver(loop, sink) as receiver, httpx.Client(timeout=60) as client:
        response = client.post(
            f"http://127.0.0.1:{receiver.http_port}/v1/logs",
            content=gzip.compress(body, compresslevel=1),
            headers={**PROTOBUF, "Content-Encoding": "gzip"},
        )
    assert response.status_code == 200
    assert len(sink.events) == 100_000
    assert [e.properties["body"] for e in sink.events[:3]] == ["line 0", "line 1", "line 2"]
    assert sink.events[-1].properties["body"] == "line 99999"


def test_100k_record_json_request(loop: LoopThread, sink: RecordingSink) -> None:
    template = (
        '{"timeUnixNano":"%d","body":{"stringValue":"%d"},"traceId":"5B8EFFF798038103D269B633813FC60C",'
        '"attributes":[{"key":"session.id","value":{"stringValue":"%s"}}]}'
    )
    records = ",".join(template % (10**18 + i, i, SESSION) for i in range(100_000))
    body = ('{"resourceLogs":[{"scopeLogs":[{"logRecords":[' + records + "]}]}]}").encode()
    with running_receiver(loop, sink) as receiver, httpx.Client(timeout=60) as client:
        response = client.post(
            f"http://127.0.0.1:{receiver.http_port}/v1/logs", content=body, headers=JSON
        )
    assert response.status_code == 200
    assert response.json() == {}
    assert len(sink.events) == 100_000
    assert sink.events[-1].properties["body"] == "99999"
    assert sink.events[-1].properties["trace_id"] == "5b8efff798038103d269b633813fc60c"


def test_json_partial_success_count_is_a_string(http: httpx.Client) -> None:
    broken = log_record()
    broken.time_unix_nano = 0
    response = http.post("/v1/logs", content=encode_json(logs_request(broken)), headers=JSON)
    assert json.loads(response.content)["partialSuccess"]["rejectedLogRecords"] == "1"


def test_a_broken_sink_gets_500_without_details(
    http: httpx.Client, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    sink.refusals.append(RuntimeError("disk on fire"))
    response = http.post("/v1/traces", content=encode_json(traces_request(span())), headers=JSON)
    assert response.status_code == 500
    assert response.json() == {"code": 13, "message": "internal error; see the receiver's log"}
    assert "disk on fire" in caplog.text


def test_json_ids_in_any_case_and_invalid_ids_over_http(
    http: httpx.Client, sink: RecordingSink
) -> None:
    document = json.loads(encode_json(logs_request(log_record(), log_record())))
    records = document["resourceLogs"][0]["scopeLogs"][0]["logRecords"]
    records[0]["traceId"] = records[0]["traceId"].upper()
    records[1]["traceId"] = "5b8e"  # wrong length: read as "not associated"
    records[1]["newField"] = {"from": "the future"}
    response = http.post("/v1/logs", content=json.dumps(document).encode(), headers=JSON)
    assert response.status_code == 200
    assert response.json() == {}
    first, second = sink.events
    assert first.properties["trace_id"] == "5b8efff798038103d269b633813fc60c"
    assert "trace_id" not in second.properties


def test_a_sink_per_signal_and_no_sink_gets_404(loop: LoopThread) -> None:
    logs, traces = RecordingSink(), RecordingSink()
    body = traces_request(span()).SerializeToString()
    with running_receiver(loop, {"logs": logs}) as only_logs:
        refused = httpx.post(
            f"http://127.0.0.1:{only_logs.http_port}/v1/traces", content=body, headers=PROTOBUF
        )
        metrics = httpx.post(
            f"http://127.0.0.1:{only_logs.http_port}/v1/metrics",
            content=metrics_request(1).SerializeToString(),
            headers=PROTOBUF,
        )
    with running_receiver(loop, {"logs": logs, "traces": traces}) as both:
        base = f"http://127.0.0.1:{both.http_port}"
        for path, request in (("/v1/logs", logs_request(log_record())), ("/v1/traces", None)):
            content = body if request is None else request.SerializeToString()
            assert httpx.post(base + path, content=content, headers=PROTOBUF).status_code == 200
    assert refused.status_code == 404
    assert _status(refused) == Status(
        code=12, message="traces: not accepted by this receiver (it feeds no traces pipeline)"
    )
    assert metrics.status_code == 200
    assert [e.event for e in logs.events] == ["$log"]
    assert [e.event for e in traces.events] == ["$span"]
