"""The protobuf schema in proto/ and its checked-in generated code in sv_otel/_proto."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
from opentelemetry.proto.common.v1 import common_pb2

from sv_otel._proto.sessionvision.v1 import sessionvision_pb2 as pb
from sv_otel._proto.sessionvision.v1 import sessionvision_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "proto_codegen.sh"
CHECKED_IN = REPO / "sv_otel" / "_proto"

PROPERTIES_JSON = """{
    "count": 3,
    "big": 9007199254740993,
    "amount": 49.99,
    "whole": 1.0,
    "ok": true,
    "url": "https://example.com/checkout",
    "missing": null,
    "cart": {"sku": "A-1", "qty": 2, "gift": false, "note": null},
    "tags": ["sale", 7, 0.5, true, null, {"nested": []}]
}"""

EXPECTED_KINDS = {
    "count": "int_value",
    "big": "int_value",
    "amount": "double_value",
    "whole": "double_value",
    "ok": "bool_value",
    "url": "string_value",
    "missing": None,
    "cart": "kvlist_value",
    "tags": "array_value",
}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_checked_in_code_matches_a_fresh_regeneration(tmp_path: Path) -> None:
    out = tmp_path / "_proto"
    result = subprocess.run(
        ["bash", str(SCRIPT), str(out)],
        env={**os.environ, "PYTHON": sys.executable},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"scripts/proto_codegen.sh failed:\n{result.stderr}"

    generated, checked_in = _tree(out), _tree(CHECKED_IN)
    hint = (
        "sv_otel/_proto is out of date with proto/: "
        "run `PYTHON=.venv/bin/python scripts/proto_codegen.sh` and commit the result"
    )
    assert sorted(generated) == sorted(checked_in), (
        f"{hint} (missing: {sorted(generated.keys() - checked_in.keys())}, "
        f"extra: {sorted(checked_in.keys() - generated.keys())})"
    )
    differing = sorted(name for name in generated if generated[name] != checked_in[name])
    assert not differing, f"{hint} (differing: {differing})"


def _to_any(value: Any) -> common_pb2.AnyValue:
    """A JSON value as an OTLP AnyValue (null is an AnyValue with no field set)."""
    if value is None:
        return common_pb2.AnyValue()
    if isinstance(value, bool):
        return common_pb2.AnyValue(bool_value=value)
    if isinstance(value, int):
        return common_pb2.AnyValue(int_value=value)
    if isinstance(value, float):
        return common_pb2.AnyValue(double_value=value)
    if isinstance(value, str):
        return common_pb2.AnyValue(string_value=value)
    if isinstance(value, list):
        return common_pb2.AnyValue(
            array_value=common_pb2.ArrayValue(values=[_to_any(item) for item in value])
        )
    assert isinstance(value, dict)
    return common_pb2.AnyValue(kvlist_value=common_pb2.KeyValueList(values=_to_key_values(value)))


def _to_key_values(obj: dict[str, Any]) -> list[common_pb2.KeyValue]:
    return [common_pb2.KeyValue(key=key, value=_to_any(value)) for key, value in obj.items()]


def _from_any(value: common_pb2.AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_from_any(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return _from_key_values(value.kvlist_value.values)
    return getattr(value, kind)


def _from_key_values(key_values: Any) -> dict[str, Any]:
    return {kv.key: _from_any(kv.value) for kv in key_values}


def _typed(value: Any) -> Any:
    """``value`` with the type of every scalar spelled out, since ``1 == 1.0 == True``."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, value)


def _event(**overrides: Any) -> pb.Event:
    fields: dict[str, Any] = {
        "event": "purchase_completed",
        "timestamp": 1709856000000,
        "properties": _to_key_values(json.loads(PROPERTIES_JSON)),
        "anonymous_id": "550e8400-e29b-41d4-a716-446655440000",
        "user_id": "user_456",
        "session_id": "a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
    }
    fields.update(overrides)
    return pb.Event(**fields)


def test_generated_code_uses_the_installed_otlp_package() -> None:
    assert [dep.name for dep in pb.DESCRIPTOR.dependencies] == [common_pb2.DESCRIPTOR.name]
    assert pb.DESCRIPTOR.dependencies[0] is common_pb2.DESCRIPTOR
    assert type(_event().properties[0]) is common_pb2.KeyValue


def test_event_round_trip_keeps_json_types() -> None:
    event = _event()
    decoded = pb.Event.FromString(event.SerializeToString())

    assert decoded == event
    assert decoded.timestamp == 1709856000000
    kinds = {kv.key: kv.value.WhichOneof("value") for kv in decoded.properties}
    assert kinds == EXPECTED_KINDS
    # JSON null stays a present-but-empty AnyValue.
    missing = next(kv for kv in decoded.properties if kv.key == "missing")
    assert missing.HasField("value")
    properties = _from_key_values(decoded.properties)
    assert _typed(properties) == _typed(json.loads(PROPERTIES_JSON))
    assert properties["big"] == 2**53 + 1  # int64, not a double
    # The message classes name their real module, so pickle works.
    assert pickle.loads(pickle.dumps(decoded)) == event


def test_event_batch_round_trip_keeps_optional_ids_unset() -> None:
    anonymous = _event(user_id=None, event="$pageview", properties=[])
    bare = pb.Event(event="$pageleave", timestamp=1, session_id="s")
    batch = pb.EventBatch(events=[_event(), anonymous, bare], token="sv_project_token")
    decoded = pb.EventBatch.FromString(batch.SerializeToString())

    assert decoded == batch
    assert decoded.token == "sv_project_token"
    first, second, third = decoded.events
    assert first.HasField("user_id") and first.HasField("anonymous_id")
    assert not second.HasField("user_id") and second.HasField("anonymous_id")
    assert not third.HasField("user_id") and not third.HasField("anonymous_id")
    assert _typed(_from_key_values(first.properties)) == _typed(json.loads(PROPERTIES_JSON))
    # An empty token is allowed (the token is optional).
    assert pb.EventBatch.FromString(pb.EventBatch(events=[bare]).SerializeToString()).token == ""


def test_session_summary_round_trip() -> None:
    trace_id = bytes(range(16))
    user = {"email": "ada@example.com", "plan": "pro", "seats": 3, "beta": True, "score": 0.5}
    summary = pb.SessionSummary(
        session_id="a1b2c3d4-e5f6-4711-8899-aabbccddeeff",
        project_id="proj_1",
        identifier="ada@example.com",
        user_object=common_pb2.KeyValueList(values=_to_key_values(user)),
        fields=[
            pb.SessionField(name="browser_name", value="Firefox", type="session"),
            pb.SessionField(name="email", value="ada@example.com", type="user"),
            pb.SessionField(name="plan", value="pro", type="track"),
        ],
        environment="production",
        app_version="2.3.0",
        client_version="1.0.0",
        user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        language="en-US",
        started_at=1709856000000,
        last_active_at=1709856600000,
        active_length=420000,
        events_count=42,
        errors_count=1,
        pages_count=5,
        user_id="user_456",
        trace_ids=[trace_id, b"\xff" * 16],
    )
    decoded = pb.SessionSummary.FromString(summary.SerializeToString())

    assert decoded == summary
    assert _typed(_from_key_values(decoded.user_object.values)) == _typed(user)
    assert [field.type for field in decoded.fields] == ["session", "user", "track"]
    assert list(decoded.trace_ids) == [trace_id, b"\xff" * 16]
    assert decoded.HasField("user_id") and not decoded.HasField("anonymous_id")
    assert decoded.active_length <= decoded.last_active_at - decoded.started_at


class _Servicer(pb_grpc.IngestServicer):
    """Accepts every event that has a session id."""

    async def Ingest(
        self,
        request: pb.EventBatch,
        context: grpc.aio.ServicerContext[pb.EventBatch, pb.IngestResponse],
    ) -> pb.IngestResponse:
        errors = [
            pb.EventError(index=index, message="session_id is missing")
            for index, event in enumerate(request.events)
            if not event.session_id
        ]
        return pb.IngestResponse(
            accepted=len(request.events) - len(errors), rejected=len(errors), errors=errors
        )


async def _ingest_over_grpc(batch: pb.EventBatch) -> pb.IngestResponse:
    server = grpc.aio.server()
    pb_grpc.add_IngestServicer_to_server(_Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.IngestStub(channel)
            response: pb.IngestResponse = await stub.Ingest(batch, timeout=10)
            return response
    finally:
        await server.stop(grace=None)


def test_ingest_service_over_grpc_aio() -> None:
    batch = pb.EventBatch(events=[_event(), _event(session_id="")], token="t")

    response = asyncio.run(_ingest_over_grpc(batch))

    assert response == pb.IngestResponse(
        accepted=1,
        rejected=1,
        errors=[pb.EventError(index=1, message="session_id is missing")],
    )
