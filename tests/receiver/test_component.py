"""The ``otlp`` receiver inside real ``sv-otel serve`` processes: OTel SDK exporters in, events at
a sessionvision ingest host out, the round trip through the wire, failures of the ingest host,
a full queue, and several workers."""

from __future__ import annotations

import gzip
import socket
import ssl
from pathlib import Path
from typing import Any

import grpc
import httpx
import msgspec
import pytest
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

from sv_otel.batch import parse_batch
from sv_otel.event import Event
from sv_otel.receiver.component import OTLPReceiverComponent
from sv_otel.server.config import load_config
from sv_otel.server.registry import REGISTRY
from sv_otel.server.runtime import Gateway
from tests.loop_thread import LoopThread
from tests.receiver.certs import Certificates
from tests.receiver.otlp import log_record, logs_request, span, traces_request
from tests.receiver.raw_http import answer, endless_headers, status
from tests.receiver.sdk import (
    PROTOCOLS,
    emit_logs,
    expected_log_events,
    expected_span_events,
    log_exporter,
    make_spans,
    span_exporter,
)
from tests.receiver.serve import free_port, metrics, sample, serving, wait_for
from tests.sessionvision.ingest_server import HANG, running_ingest_server

LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
TRACES = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
PROTOBUF = {"Content-Type": "application/x-protobuf"}


def _raw(data: bytes) -> bytes:
    return data


def _grpc_call(port: int, method: str, body: bytes) -> bytes:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        result: bytes = channel.unary_unary(method, _raw, _raw)(body, timeout=30)
        return result


def _grpc_error(port: int, method: str, body: bytes) -> grpc.RpcError:
    try:
        _grpc_call(port, method, body)
    except grpc.RpcError as error:
        return error
    raise AssertionError("the call succeeded")


def _session(name: str) -> str:
    return f"5e55{name:0>4}-0000-4000-8000-000000000000"


def test_otel_sdk_exporters_through_serve_reach_the_ingest_host(
    loop: LoopThread, tmp_path: Path
) -> None:
    with running_ingest_server(loop) as ingest:
        args = ["--ingest-address", "127.0.0.1:0", "--data-dir", str(tmp_path / "data")]
        args += ["--otlp-grpc-address", "127.0.0.1:0", "--otlp-http-address", "127.0.0.1:0"]
        with serving(loop, tmp_path, *args, "--export-sessionvision", ingest.url) as served:
            grpc_url = f"http://127.0.0.1:{served.ports['otlp grpc']}"
            http_url = f"http://127.0.0.1:{served.ports['otlp http']}"
            expected: dict[str, list[Event]] = {}
            for n, protocol in enumerate(PROTOCOLS):
                spans_session, logs_session = _session(f"{n}a"), _session(f"{n}b")
                spans = make_spans(span_exporter(protocol, grpc_url, http_url), spans_session)
                expected[spans_session] = expected_span_events(spans, spans_session)
                emit_logs(log_exporter(protocol, grpc_url, http_url), logs_session)
                expected[logs_session] = expected_log_events(logs_session)
            wait_for(lambda: len(ingest.events) == 8, "8 events at the ingest host", served)
            samples = metrics(served.url)
    for session, events in expected.items():
        assert [e for e in ingest.events if e.session_id == session] == events
    assert all(len({e.session_id for e in r.events}) == 1 for r in ingest.accepted)
    for transport in ("grpc", "http"):
        for signal in ("logs", "traces"):
            assert sample(
                samples,
                "sv_otel_receiver_requests_total",
                transport=transport,
                signal=signal,
                outcome="ok",
            ) == (3.0 if signal == "logs" else 2.0)  # one request a record
    assert sample(samples, "sv_otel_receiver_accepted_events_total", receiver="otlp") == 8
    assert sample(samples, "sv_otel_receiver_records_skipped_total", signal="logs") == 2
    assert sample(samples, "sv_otel_receiver_records_skipped_total", signal="traces") == 2
    assert sample(samples, "sv_otel_sessionvision_events_total", outcome="delivered") == 8
    sent = "sv_otel_exporter_sent_events_total"
    assert sample(samples, sent, exporter="sessionvision/cli") == 8


def _browser_batch(session: str) -> list[dict[str, Any]]:
    base = {"anonymousId": "550e8400-e29b-41d4-a716-446655440000", "sessionId": session}
    return [
        {
            **base,
            "event": "$pageview",
            "timestamp": 1709856000000,
            "userId": None,
            "properties": {
                "$current_url": "https://shop.example/p/1?q=ü",
                "$browser": "Firefox",
                "$device_type": "desktop",
                "price": 1.0,
                "count": 3,
                "big": -9007199254740993,
                "ratio": 0.1,
                "ok": True,
                "nothing": None,
                "empty": "",
                "tags": ["a", 1, 2.5, False, None, {"deep": [[]]}],
                "nested": {"a": {"b": {}}, "c": []},
                "session.id": "a custom property that looks like a mapped key",
            },
        },
        {
            **base,
            "event": "purchase_completed",
            "timestamp": 1709856000123,
            "userId": "user_456",
            "properties": {"amount": 49.99, "currency": "EUR", "items": [{"sku": "x", "qty": 2}]},
        },
    ]


def _json(events: list[Event]) -> list[bytes]:
    return [msgspec.json.encode(event) for event in events]


def test_round_trip_gateway_to_receiver_keeps_every_event_and_type(
    loop: LoopThread, tmp_path: Path
) -> None:
    with running_ingest_server(loop) as ingest:
        receiver_dir = tmp_path / "receiver"
        receiver_dir.mkdir()
        args = ["--ingest-address", "127.0.0.1:0", "--data-dir", str(receiver_dir / "data")]
        args += ["--otlp-grpc-address", "127.0.0.1:0", "--otlp-http-address", "127.0.0.1:0"]
        with serving(loop, receiver_dir, *args, "--export-sessionvision", ingest.url) as receiver:
            # One gateway, two browser endpoints: what arrives on the first leaves as OTLP logs
            # over gRPC, what arrives on the second as OTLP spans over HTTP.
            ports = receiver.ports
            gateway = {
                "receivers": {
                    "sessionvision/logs": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}},
                    "sessionvision/traces": {"protocols": {"http": {"endpoint": "127.0.0.1:0"}}},
                },
                "exporters": {
                    "otlp": {"endpoint": f"http://127.0.0.1:{ports['otlp grpc']}"},
                    "otlphttp": {"endpoint": f"http://127.0.0.1:{ports['otlp http']}"},
                },
                "service": {
                    "data_dir": str(tmp_path / "gateway"),
                    "pipelines": {
                        "logs": {"receivers": ["sessionvision/logs"], "exporters": ["otlp"]},
                        "traces": {
                            "receivers": ["sessionvision/traces"],
                            "exporters": ["otlphttp"],
                        },
                    },
                },
            }
            batches = {
                "logs": _browser_batch(_session("1")),
                "traces": _browser_batch(_session("2")),
            }
            with serving(loop, tmp_path, config=gateway) as sender:
                for signal, batch in batches.items():
                    port = sender.ports[f"sessionvision/{signal} http"]
                    response = httpx.post(
                        f"http://127.0.0.1:{port}/api/v1/ingest/events",
                        content=gzip.compress(msgspec.json.encode(batch)),
                        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
                    )
                    assert response.json() == {"accepted": 2, "rejected": 0, "errors": []}
                wait_for(lambda: len(ingest.events) == 4, "4 events at the ingest host", receiver)
    for batch in batches.values():
        sent = parse_batch(msgspec.json.encode(batch)).events
        arrived = [e for e in ingest.events if e.session_id == sent[0].session_id]
        assert _json(arrived) == _json(sent)


def test_ingest_host_failures_are_retried_dead_lettered_and_timed_out(
    loop: LoopThread, tmp_path: Path
) -> None:
    telemetry = f"127.0.0.1:{free_port()}"
    with running_ingest_server(loop, hang_seconds=3.0) as ingest:
        config = {
            "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": "127.0.0.1:0"}}}},
            "exporters": {"sessionvision": {"endpoint": ingest.url, "timeout": "1s"}},
            "service": {
                "data_dir": str(tmp_path / "data"),
                "pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["sessionvision"]}},
                "telemetry": {"address": telemetry},
            },
        }
        with serving(loop, tmp_path, config=config) as served:
            port = served.ports["otlp grpc"]

            def send(name: str) -> str:
                session = _session(name)
                body = logs_request(log_record(f"{name} failed", session_id=session))
                assert _grpc_call(port, LOGS, body.SerializeToString()) == b""
                return session

            def statuses(session: str) -> list[int]:
                return [r.status for r in ingest.received if r.events[0].session_id == session]

            ingest.plan(500)
            retried = send("500")
            wait_for(lambda: statuses(retried) == [500, 200], "a 500 then a 200", served)
            ingest.plan(400)
            refused = send("400")
            dead = tmp_path / "data" / "deadletter" / "logs.sessionvision.jsonl"
            wait_for(dead.exists, "the dead-letter file", served)
            ingest.plan(HANG)
            timed_out = send("hang")
            wait_for(lambda: statuses(timed_out) == [503, 200], "a timeout then a 200", served)
            samples = metrics(f"http://{telemetry}")
    assert statuses(refused) == [400]
    assert [e.session_id for e in ingest.events] == [retried, timed_out]
    assert [e.properties["body"] for e in ingest.events] == ["500 failed", "hang failed"]
    [line] = dead.read_bytes().splitlines()
    letter = msgspec.json.decode(line)
    assert letter["error"].endswith('HTTP 400: {"error":"planned failure"}')
    assert [e["sessionId"] for e in letter["events"]] == [refused]
    assert (
        sample(samples, "sv_otel_exporter_dead_lettered_events_total", exporter="sessionvision")
        == 1
    )
    assert sample(samples, "sv_otel_exporter_sent_events_total", exporter="sessionvision") == 2
    for outcome, count in (("delivered", 2), ("retried", 2), ("rejected", 1)):
        assert sample(samples, "sv_otel_sessionvision_requests_total", outcome=outcome) == count


def _retry_info(status: Status) -> RetryInfo:
    for detail in status.details:
        info = RetryInfo()
        if detail.Unpack(info):
            return info
    raise AssertionError(f"no RetryInfo in {status}")


def test_a_full_queue_answers_503_and_unavailable_with_retry_hints(
    loop: LoopThread, tmp_path: Path
) -> None:
    config = {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "127.0.0.1:0"},
                    "http": {"endpoint": "127.0.0.1:0"},
                }
            }
        },
        # Nothing listens there: the first batch stays queued and fills the queue.
        "exporters": {"sessionvision": {"endpoint": f"http://127.0.0.1:{free_port()}"}},
        "service": {
            "data_dir": str(tmp_path / "data"),
            "pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["sessionvision"]}},
            "queue": {"max_size": "2KiB", "retry_after": "3s"},
            "shutdown_timeout": "1s",
        },
    }
    records = [log_record(f"record {n}", session_id=_session("full")) for n in range(6)]
    body = logs_request(*records).SerializeToString()
    with serving(loop, tmp_path, config=config) as served:
        grpc_port = served.ports["otlp grpc"]
        url = f"http://127.0.0.1:{served.ports['otlp http']}"
        assert httpx.post(url + "/v1/logs", content=body, headers=PROTOBUF).status_code == 200
        refused = httpx.post(url + "/v1/logs", content=body, headers=PROTOBUF)
        unavailable = _grpc_error(grpc_port, LOGS, body)
        # Until an export frees room, a request as large as a refused one is refused before it
        # is decoded (garbage gets 503, not 400); a smaller one is still decoded.
        garbage = b"\xff" * len(body)
        early = httpx.post(url + "/v1/logs", content=garbage, headers=PROTOBUF)
        decoded = httpx.post(url + "/v1/logs", content=garbage[:10], headers=PROTOBUF)
        spans = traces_request(span(session_id=_session("full"))).SerializeToString()
        no_pipeline = httpx.post(url + "/v1/traces", content=spans, headers=PROTOBUF)
        unimplemented = _grpc_error(grpc_port, TRACES, spans)
        ready = httpx.get(url + "/readyz")
        samples = metrics(url)
    assert (refused.status_code, refused.headers["retry-after"]) == (503, "3")
    status = Status.FromString(refused.content)
    assert status.code == grpc.StatusCode.UNAVAILABLE.value[0]
    assert status.message.startswith("queue: full (")
    assert _retry_info(status).retry_delay.seconds == 3
    assert unavailable.code() == grpc.StatusCode.UNAVAILABLE
    assert isinstance(unavailable, grpc.Call)
    trailers = dict(unavailable.trailing_metadata() or ())
    assert RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"]).retry_delay.seconds == 3
    details = Status.FromString(trailers["grpc-status-details-bin"])
    assert _retry_info(details).retry_delay.seconds == 3
    assert (early.status_code, early.headers["retry-after"]) == (503, "3")
    assert decoded.status_code == 400
    message = "traces: not accepted by this receiver (it feeds no traces pipeline)"
    assert no_pipeline.status_code == 404
    assert Status.FromString(no_pipeline.content).message == message
    assert (unimplemented.code(), unimplemented.details()) == (
        grpc.StatusCode.UNIMPLEMENTED,
        message,
    )
    # The health routes are on the OTLP/HTTP port, the only HTTP server of this gateway; the
    # queue is not full by /readyz's measure: the refused batch would have overflowed it.
    assert (ready.status_code, ready.json()["status"]) == (200, "ready")
    throttled = "sv_otel_receiver_requests_total"
    for transport, count in (("grpc", 1), ("http", 2)):
        assert (
            sample(samples, throttled, transport=transport, signal="logs", outcome="throttled")
            == count
        )
    rejected = "sv_otel_receiver_rejected_events_total"
    assert sample(samples, rejected, receiver="otlp", reason="queue_full") == 3
    assert sample(samples, "sv_otel_receiver_accepted_events_total", receiver="otlp") == 6


def test_two_workers_share_the_otlp_ports_and_sum_their_counters(
    loop: LoopThread, tmp_path: Path
) -> None:
    grpc_port, http_port, ingest_port = free_port(), free_port(), free_port()
    args = ["--ingest-address", f"127.0.0.1:{ingest_port}", "--workers", "2"]
    args += ["--otlp-grpc-address", f"127.0.0.1:{grpc_port}"]
    args += ["--otlp-http-address", f"127.0.0.1:{http_port}"]
    with serving(loop, tmp_path, *args, "--data-dir", str(tmp_path / "data"), workers=2) as served:
        for n in range(20):
            body = logs_request(log_record(f"http {n}", session_id=_session(f"h{n}")))
            response = httpx.post(  # a new connection each time: spread over the workers
                f"http://127.0.0.1:{http_port}/v1/logs",
                content=body.SerializeToString(),
                headers=PROTOBUF,
            )
            assert response.status_code == 200
            body = logs_request(log_record(f"grpc {n}", session_id=_session(f"g{n}")))
            assert _grpc_call(grpc_port, LOGS, body.SerializeToString()) == b""
        export = tmp_path / "data" / "export"
        files = [export / "sessionvision.0.jsonl", export / "sessionvision.1.jsonl"]

        def written() -> list[Event]:
            return [
                event
                for path in files
                if path.exists()
                for event in parse_batch(path.read_bytes()).events
            ]

        wait_for(lambda: len(written()) == 40, "40 events in the files", served)
        samples = metrics(f"http://127.0.0.1:{ingest_port}")
    assert all(path.stat().st_size > 0 for path in files)  # both workers took requests
    assert sorted(e.properties["body"] for e in written()) == sorted(
        f"{transport} {n}" for transport in ("http", "grpc") for n in range(20)
    )
    for transport in ("grpc", "http"):
        assert (
            sample(
                samples,
                "sv_otel_receiver_requests_total",
                transport=transport,
                signal="logs",
                outcome="ok",
            )
            == 20
        )
    assert sample(samples, "sv_otel_receiver_accepted_events_total", receiver="otlp") == 40
    assert sample(samples, "sv_otel_sessionvision_events_total", outcome="written") == 40


def test_tls_and_mutual_tls_in_the_gateway(
    loop: LoopThread, tmp_path: Path, certificates: Certificates
) -> None:
    tls = {"cert_file": str(certificates.server_cert), "key_file": str(certificates.server_key)}
    raw = {
        "receivers": {
            "otlp": {
                "protocols": {
                    "grpc": {"endpoint": "127.0.0.1:0", "tls": tls},
                    "http": {
                        "endpoint": "127.0.0.1:0",
                        "tls": {**tls, "client_ca_file": str(certificates.ca)},
                    },
                }
            }
        },
        "exporters": {"sessionvision_file": None},
        "service": {
            "data_dir": str(tmp_path),
            "pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["sessionvision_file"]}},
        },
    }
    body = logs_request(log_record(session_id=_session("tls"))).SerializeToString()
    client = ssl.create_default_context(cafile=str(certificates.ca))
    gateway = Gateway(load_config(raw, REGISTRY))
    loop.run(gateway.start())
    try:
        receiver = gateway.receivers["otlp"]
        assert isinstance(receiver, OTLPReceiverComponent)
        url = f"https://127.0.0.1:{receiver.http_port}"
        with pytest.raises(httpx.TransportError):  # no client certificate
            httpx.post(url + "/v1/logs", content=body, headers=PROTOBUF, verify=client)
        client.load_cert_chain(str(certificates.client_cert), str(certificates.client_key))
        response = httpx.post(url + "/v1/logs", content=body, headers=PROTOBUF, verify=client)
        health = httpx.get(url + "/healthz", verify=client)
        credentials = grpc.ssl_channel_credentials(certificates.ca.read_bytes())
        with grpc.secure_channel(f"127.0.0.1:{receiver.grpc_port}", credentials) as channel:
            assert channel.unary_unary(LOGS, _raw, _raw)(body, timeout=30) == b""
    finally:
        loop.run(gateway.stop())
    assert (response.status_code, health.json()) == (200, {"status": "ok"})
    written = parse_batch((tmp_path / "export" / "sessionvision.jsonl").read_bytes()).events
    assert [e.session_id for e in written] == [_session("tls")] * 2


def test_hostile_headers_on_the_http_port_get_a_status(loop: LoopThread, tmp_path: Path) -> None:
    config = {
        "receivers": {
            "otlp": {"protocols": {"http": {"endpoint": "127.0.0.1:0", "read_header_timeout": 1}}}
        },
        "exporters": {"sessionvision": {"endpoint": f"http://127.0.0.1:{free_port()}"}},
        "service": {
            "data_dir": str(tmp_path / "data"),
            "pipelines": {"logs": {"receivers": ["otlp"], "exporters": ["sessionvision"]}},
            "shutdown_timeout": "1s",
        },
    }
    with serving(loop, tmp_path, config=config) as served:
        port = served.ports["otlp http"]
        endless_head, endless_body, sent = endless_headers(port)
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            slow_head, slow_body = answer(sock)
        served_after = httpx.post(
            f"http://127.0.0.1:{port}/v1/logs",
            content=logs_request(log_record()).SerializeToString(),
            headers=PROTOBUF,
        )
    assert endless_head.startswith(b"HTTP/1.1 431 ")
    assert status(endless_body) == Status(
        code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0], message="headers: over 65536 bytes"
    )
    assert sent < 64 << 20
    assert slow_head.startswith(b"HTTP/1.1 408 ")
    assert status(slow_body) == Status(
        code=grpc.StatusCode.DEADLINE_EXCEEDED.value[0],
        message="headers: not received within 1 seconds",
    )
    assert served_after.status_code == 200
