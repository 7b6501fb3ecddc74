"""Arbitrary bytes into both HTTP content types and the gRPC services, for a bounded time.

No exception escapes, the server keeps serving, and every answer is a valid OTLP answer: a
success with an ``Export*ServiceResponse`` or a 400 / ``INVALID_ARGUMENT`` with a message.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import grpc
import httpx
from google.rpc.status_pb2 import Status
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sv_otel.otlp_json import encode_json
from sv_otel.receiver.signals import SIGNALS
from tests.loop_thread import LoopThread
from tests.receiver.harness import RecordingSink, running_receiver
from tests.receiver.otlp import log_record, logs_request, span, traces_request

BOUNDED = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
VALID = [
    logs_request(log_record(), log_record(session_id=None)).SerializeToString(),
    traces_request(span()).SerializeToString(),
]
JSON_SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
OTLP_KEYS = st.sampled_from(
    [
        "timeUnixNano", "traceId", "spanId", "body", "attributes", "key", "value", "stringValue",
        "intValue", "kvlistValue", "arrayValue", "values", "severityNumber", "eventName", "name",
        "startTimeUnixNano", "events", "status", "kind", "resource", "scope",
    ]
)  # fmt: skip


def _otlp_like(signal_key: str, scope_key: str, records_key: str) -> st.SearchStrategy[bytes]:
    record = st.dictionaries(OTLP_KEYS, JSON_VALUES, max_size=6)
    return st.lists(record, max_size=3).map(
        lambda records: json.dumps({signal_key: [{scope_key: [{records_key: records}]}]}).encode()
    )


JSON_BODIES = (
    st.binary(max_size=300)
    | JSON_VALUES.map(lambda v: json.dumps(v).encode())
    | _otlp_like("resourceLogs", "scopeLogs", "logRecords")
    | _otlp_like("resourceSpans", "scopeSpans", "spans")
)
PROTO_BODIES = st.binary(max_size=300) | st.builds(
    lambda valid, cut, noise: valid[:cut] + noise + valid[cut:],
    st.sampled_from(VALID),
    st.integers(0, 200),
    st.binary(max_size=8),
)


def _check_http(response: httpx.Response, json_body: bool) -> None:
    assert response.status_code in (200, 400), response.content
    media = "application/json" if json_body else "application/x-protobuf"
    assert response.headers["content-type"] == media
    if response.status_code == 400:
        status: Any = (
            Status(code=response.json()["code"], message=response.json()["message"])
            if json_body
            else Status.FromString(response.content)
        )
        assert status.code == 3 and status.message
    elif json_body:
        assert isinstance(response.json(), dict)


def test_http_never_fails_on_arbitrary_bodies(loop: LoopThread) -> None:
    with (
        running_receiver(loop, RecordingSink(), grpc_address=None) as receiver,
        httpx.Client(base_url=f"http://127.0.0.1:{receiver.http_port}") as client,
    ):

        @BOUNDED
        @given(st.sampled_from(SIGNALS), st.booleans(), st.data(), st.booleans())
        def check(signal: Any, json_body: bool, data: st.DataObject, zipped: bool) -> None:
            body = data.draw(JSON_BODIES if json_body else PROTO_BODIES)
            media = "application/json" if json_body else "application/x-protobuf"
            headers = {"Content-Type": media}
            if zipped:
                body = gzip.compress(body)
                headers["Content-Encoding"] = "gzip"
            response = client.post(signal.path, content=body, headers=headers)
            _check_http(response, json_body)

        check()
        # Still serving after all that.
        ok = client.post(
            "/v1/logs",
            content=encode_json(logs_request(log_record())),
            headers={"Content-Type": "application/json"},
        )
        assert ok.status_code == 200


def _raw(data: bytes) -> bytes:
    return data


def test_grpc_never_fails_on_arbitrary_bytes(loop: LoopThread) -> None:
    with (
        running_receiver(loop, RecordingSink(), http_address=None) as receiver,
        grpc.insecure_channel(f"127.0.0.1:{receiver.grpc_port}") as channel,
    ):
        stubs = {
            signal.service: channel.unary_unary(f"/{signal.service}/Export", _raw, _raw)
            for signal in SIGNALS
        }

        @BOUNDED
        @given(st.sampled_from(SIGNALS), PROTO_BODIES)
        def check(signal: Any, body: bytes) -> None:
            try:
                stubs[signal.service](body, timeout=10)
            except grpc.RpcError as error:
                assert isinstance(error, grpc.Call)
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
                assert error.details()

        check()
        assert stubs[SIGNALS[0].service](VALID[0], timeout=10) == b""
