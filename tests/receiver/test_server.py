"""OTLPReceiver: both transports started and stopped together, graceful stop, TLS, CORS, auth."""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import httpx
import pytest
from google.rpc.status_pb2 import Status
from prometheus_client import REGISTRY

from sv_otel.errors import ConfigurationError
from sv_otel.receiver import OTLPReceiver, ReceiverSettings, TLSSettings
from sv_otel.receiver.convert import EVENT_BYTES
from sv_otel.server.sockets import bind_socket
from tests.loop_thread import LoopThread
from tests.receiver.certs import Certificates
from tests.receiver.harness import RecordingSink, running_receiver, settings
from tests.receiver.otlp import log_record, logs_request
from tests.receiver.raw_http import answer, endless_headers, response, status

BODY = logs_request(log_record()).SerializeToString()
PROTOBUF = {"Content-Type": "application/x-protobuf"}
LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
PARTIAL_BODY = (
    b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-protobuf\r\n"
    b"Content-Length: %d\r\n\r\n%s" % (len(BODY), BODY[:10])
)
"""A logs request whose body stops after 10 of its bytes."""


def _raw(data: bytes) -> bytes:
    return data


def _post(port: int) -> httpx.Response:
    return httpx.post(
        f"http://127.0.0.1:{port}/v1/logs", content=BODY, headers=PROTOBUF, timeout=30
    )


def test_both_transports_on_free_ports(loop: LoopThread) -> None:
    sink = RecordingSink()
    with running_receiver(loop, sink) as receiver:
        assert receiver.grpc_port and receiver.http_port
        assert _post(receiver.http_port).status_code == 200
        with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
            channel.unary_unary(LOGS, _raw, _raw)(BODY, timeout=10)
    assert len(sink.events) == 2


def test_only_one_transport(loop: LoopThread) -> None:
    with running_receiver(loop, RecordingSink(), grpc_address=None) as receiver:
        assert receiver.grpc_port is None and receiver.http_port


def test_http_port_in_use_is_a_configuration_error(loop: LoopThread) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        receiver = OTLPReceiver(RecordingSink(), settings(http_address=f"127.0.0.1:{port}"))
        with pytest.raises(ConfigurationError) as caught:
            loop.run(receiver.start())
    assert caught.value.message == (
        f"http_address 127.0.0.1:{port}: cannot listen (Address already in use)"
    )


def test_grpc_port_in_use_is_a_configuration_error(loop: LoopThread) -> None:
    with running_receiver(loop, RecordingSink(), http_address=None) as first:
        address = f"127.0.0.1:{first.grpc_port}"
        second = OTLPReceiver(RecordingSink(), settings(grpc_address=address, http_address=None))
        with pytest.raises(ConfigurationError) as caught:
            loop.run(second.start())
    assert caught.value.message.startswith(f"grpc_address {address}: cannot listen (")


def test_stop_lets_in_flight_requests_finish(loop: LoopThread) -> None:
    sink = RecordingSink(gate=asyncio.Event())
    receiver = OTLPReceiver(sink, settings())
    loop.run(receiver.start())
    assert receiver.http_port and receiver.grpc_port
    with (
        ThreadPoolExecutor(2) as pool,
        grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel,
    ):
        http_call = pool.submit(_post, receiver.http_port)
        grpc_call = pool.submit(channel.unary_unary(LOGS, _raw, _raw), BODY, timeout=30)
        deadline = time.monotonic() + 10
        while sink.entered < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sink.entered == 2
        stopping = asyncio.run_coroutine_threadsafe(receiver.stop(10), loop.loop)
        time.sleep(0.2)
        assert not stopping.done()  # waiting for the two requests
        assert sink.gate is not None
        loop.loop.call_soon_threadsafe(sink.gate.set)
        assert http_call.result(30).status_code == 200
        assert grpc_call.result(30) == b""
        stopping.result(30)
    assert len(sink.events) == 2


def test_http_bearer_token(loop: LoopThread) -> None:
    sink = RecordingSink()
    with running_receiver(loop, sink, bearer_token="s3cret") as receiver:
        url = f"http://127.0.0.1:{receiver.http_port}/v1/logs"
        missing = httpx.post(url, content=BODY, headers=PROTOBUF)
        wrong = httpx.post(
            url,
            content=b"{}",
            headers={"Content-Type": "application/json", "Authorization": "Bearer x"},
        )
        right = httpx.post(
            url, content=BODY, headers={**PROTOBUF, "Authorization": "Bearer s3cret"}
        )
    assert missing.status_code == wrong.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.json() == {"code": 16, "message": "authorization: invalid bearer token"}
    assert right.status_code == 200
    assert len(sink.events) == 1


def test_http_tls_and_mutual_tls(loop: LoopThread, certificates: Certificates) -> None:
    context = ssl.create_default_context(cafile=str(certificates.ca))
    tls = TLSSettings(str(certificates.server_cert), str(certificates.server_key))
    sink = RecordingSink()
    with running_receiver(loop, sink, tls=tls, grpc_address=None) as receiver:
        url = f"https://127.0.0.1:{receiver.http_port}/v1/logs"
        assert httpx.post(url, content=BODY, headers=PROTOBUF, verify=context).status_code == 200
    mutual = TLSSettings(
        str(certificates.server_cert), str(certificates.server_key), str(certificates.ca)
    )
    with running_receiver(loop, sink, tls=mutual, grpc_address=None) as receiver:
        url = f"https://127.0.0.1:{receiver.http_port}/v1/logs"
        with pytest.raises(httpx.TransportError):
            httpx.post(url, content=BODY, headers=PROTOBUF, verify=context)
        context.load_cert_chain(str(certificates.client_cert), str(certificates.client_key))
        assert httpx.post(url, content=BODY, headers=PROTOBUF, verify=context).status_code == 200
    assert len(sink.events) == 2


def test_cors_for_browser_sdks(loop: LoopThread) -> None:
    origins = ("https://app.example.com", "https://*.example.org")
    with running_receiver(loop, RecordingSink(), cors_allowed_origins=origins) as receiver:
        url = f"http://127.0.0.1:{receiver.http_port}/v1/traces"

        def preflight(origin: str) -> httpx.Response:
            return httpx.options(
                url,
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "content-type",
                },
            )

        allowed = preflight("https://app.example.com")
        wildcard = preflight("https://eu.example.org")
        refused = preflight("https://evil.example.net")
        post = httpx.post(
            url,
            content=b"{}",
            headers={"Content-Type": "application/json", "Origin": "https://app.example.com"},
        )
    assert allowed.status_code == wildcard.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert wildcard.headers["access-control-allow-origin"] == "https://eu.example.org"
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "content-type" in allowed.headers["access-control-allow-headers"].lower()
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert post.status_code == 200
    assert post.headers["access-control-allow-origin"] == "https://app.example.com"
    assert post.headers["access-control-expose-headers"] == "Retry-After"


def test_cors_off_by_default(loop: LoopThread) -> None:
    with running_receiver(loop, RecordingSink()) as receiver:
        response = httpx.options(
            f"http://127.0.0.1:{receiver.http_port}/v1/logs",
            headers={"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"},
        )
    assert response.status_code == 405
    assert "access-control-allow-origin" not in response.headers


def test_settings_default_addresses_are_loopback() -> None:
    assert ReceiverSettings().grpc_address == "127.0.0.1:4317"


def test_http_socket_turns_nagle_off() -> None:
    # Without it every keep-alive response with a body waits for the client's delayed ACK.
    sock = bind_socket("127.0.0.1", 0, reuse_port=False)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        sock.close()


def test_slow_headers_get_408_with_a_status(loop: LoopThread) -> None:
    sink = RecordingSink()
    with running_receiver(loop, sink, read_header_timeout=0.5) as receiver:
        port = receiver.http_port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            started = time.monotonic()
            head, body = answer(sock)
            waited = time.monotonic() - started
        with socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
            quiet = answer(idle)  # a connection that never sends is closed without an answer
        after = _post(port)
    assert head.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"content-type: application/json" in head.lower()
    assert b"connection: close" in head.lower()
    assert status(body) == Status(
        code=grpc.StatusCode.DEADLINE_EXCEEDED.value[0],
        message="headers: not received within 0.5 seconds",
    )
    assert 0.3 < waited < 5
    assert quiet == (b"", b"")
    assert after.status_code == 200 and len(sink.events) == 1


def test_a_slow_body_gets_408_and_the_connection_is_closed(loop: LoopThread) -> None:
    sink = RecordingSink()
    with running_receiver(loop, sink, read_timeout=0.5) as receiver:
        port = receiver.http_port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(PARTIAL_BODY)
            started = time.monotonic()
            head, body = answer(sock)  # until the server closes
            waited = time.monotonic() - started
        after = _post(port)
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert status(body) == Status(
        code=grpc.StatusCode.DEADLINE_EXCEEDED.value[0],
        message="body: not received within 0.5 seconds",
    )
    assert 0.3 < waited < 5
    assert after.status_code == 200 and len(sink.events) == 1
    assert _in_flight("http") == 0


def test_a_client_gone_mid_body_is_counted_invalid_not_logged_as_an_error(
    loop: LoopThread, caplog: pytest.LogCaptureFixture
) -> None:
    sink = RecordingSink()
    labels = {"transport": "http", "signal": "logs", "outcome": "invalid"}
    before = REGISTRY.get_sample_value("sv_otel_receiver_requests_total", labels) or 0.0
    with running_receiver(loop, sink) as receiver:
        port = receiver.http_port
        assert port is not None
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(PARTIAL_BODY)
        deadline = time.monotonic() + 10
        while (
            REGISTRY.get_sample_value("sv_otel_receiver_requests_total", labels) or 0.0
        ) == before:
            assert time.monotonic() < deadline, "the abandoned request was never counted"
            time.sleep(0.02)
        after = _post(port)
    assert after.status_code == 200 and len(sink.events) == 1
    assert _in_flight("http") == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_endless_headers_get_431_with_a_status(loop: LoopThread) -> None:
    sink = RecordingSink()
    with running_receiver(loop, sink) as receiver:
        port = receiver.http_port
        assert port is not None
        head, body, sent = endless_headers(port)
        # Large but finite headers are still served.
        big = {f"X-Big-{n}": "b" * 1000 for n in range(40)}
        after = httpx.post(
            f"http://127.0.0.1:{port}/v1/logs", content=BODY, headers={**PROTOBUF, **big}
        )
    assert head.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert b"content-type: application/json" in head.lower()
    assert status(body) == Status(
        code=grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
        message="headers: over 65536 bytes",
    )
    assert sent < 64 << 20
    assert after.status_code == 200 and len(sink.events) == 1


def test_unreadable_tls_files_are_a_configuration_error(loop: LoopThread, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing.pem")
    receiver = OTLPReceiver(
        RecordingSink(),
        settings(grpc_address=None, tls=TLSSettings(cert_file=missing, key_file=missing)),
    )
    with pytest.raises(ConfigurationError) as caught:
        loop.run(receiver.start())
    assert caught.value.message == (
        "http_address 127.0.0.1:0: cannot serve ([Errno 2] No such file or directory)"
    )


def test_requests_past_the_in_flight_budget_get_503_and_unavailable(loop: LoopThread) -> None:
    sink = RecordingSink(gate=asyncio.Event())
    big = logs_request(log_record(body="x" * 200_000)).SerializeToString()
    with running_receiver(loop, sink, max_in_flight_bytes=256 * 1024) as receiver:
        assert receiver.http_port and receiver.grpc_port
        # A client that sends most of a 200 KB body, then waits: the receiver holds it.
        with socket.create_connection(("127.0.0.1", receiver.http_port), timeout=30) as slow:
            slow.sendall(
                b"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/x-protobuf\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (len(big), big[:150_000])
            )
            deadline = time.monotonic() + 10
            while _in_flight("http") < 150_000 and time.monotonic() < deadline:
                time.sleep(0.01)  # until the receiver holds what it read
            assert _in_flight("http") == 150_000
            refused_http = httpx.post(
                f"http://127.0.0.1:{receiver.http_port}/v1/logs",
                content=big,
                headers=PROTOBUF,
                timeout=30,
            )
            with grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel:
                export = channel.unary_unary(LOGS, _raw, _raw)
                # gRPC has its own budget: one call held by the sink, the next one refused.
                with ThreadPoolExecutor(1) as pool:
                    held = pool.submit(export, big, timeout=30)
                    deadline = time.monotonic() + 10
                    while sink.entered < 1 and time.monotonic() < deadline:
                        time.sleep(0.01)
                    try:
                        export(big, timeout=30)
                    except grpc.RpcError as error:
                        refused_grpc = error
                    assert sink.gate is not None
                    loop.loop.call_soon_threadsafe(sink.gate.set)
                    assert held.result(30) == b""
            slow.sendall(big[150_000:])
            head, _ = response(slow)
        admitted = httpx.post(
            f"http://127.0.0.1:{receiver.http_port}/v1/logs", content=big, headers=PROTOBUF
        )
    assert refused_http.status_code == 503
    assert refused_http.headers["retry-after"] == "1"
    message = status(refused_http.content).message
    assert message.startswith("receiver: ") and message.endswith(
        " bytes of requests in flight, the limit is 262144; retry later"
    )
    assert refused_grpc.code() == grpc.StatusCode.UNAVAILABLE
    holding = len(big) + EVENT_BYTES  # the held call's body and its one record's event
    assert refused_grpc.details() == (
        f"receiver: {holding} bytes of requests in flight, the limit is 262144; retry later"
    )
    assert head.startswith(b"HTTP/1.1 200 ")
    assert admitted.status_code == 200
    assert len(sink.events) == 3  # the held gRPC call, the slow client, the last one
    assert _in_flight("http") == _in_flight("grpc") == 0


def test_a_request_whose_events_alone_exceed_the_budget_is_refused_whole(
    loop: LoopThread,
) -> None:
    # 600 small records: 60 KB of protobuf, but their events would take 300 KB.
    sink = RecordingSink()
    many = logs_request(*[log_record(body="x") for _ in range(600)]).SerializeToString()
    assert len(many) < 100_000
    with running_receiver(loop, sink, max_in_flight_bytes=256 * 1024) as receiver:
        refused_http = httpx.post(
            f"http://127.0.0.1:{receiver.http_port}/v1/logs", content=many, headers=PROTOBUF
        )
        with (
            grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel,
            pytest.raises(grpc.RpcError) as refused_grpc,
        ):
            channel.unary_unary(LOGS, _raw, _raw)(many, timeout=30)
        fewer = logs_request(*[log_record(body="x") for _ in range(500)]).SerializeToString()
        admitted = httpx.post(
            f"http://127.0.0.1:{receiver.http_port}/v1/logs", content=fewer, headers=PROTOBUF
        )
    message = (
        f"request: 600 log records, whose events would take about {600 * EVENT_BYTES} bytes, "
        "more than the 262144 bytes all requests in flight may hold (max_in_flight_bytes); "
        "send fewer in each request"
    )
    assert refused_http.status_code == 413
    assert status(refused_http.content).message == message
    assert refused_grpc.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert refused_grpc.value.details() == message
    assert admitted.status_code == 200
    assert len(sink.events) == 500  # nothing of the refused requests was kept
    assert _in_flight("http") == _in_flight("grpc") == 0


def _in_flight(transport: str) -> float:
    value = REGISTRY.get_sample_value("sv_otel_receiver_in_flight_bytes", {"transport": transport})
    return value or 0.0
