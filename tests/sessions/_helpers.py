"""Helpers shared by the session tests: events, the schema validator, log attributes."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from sv_otel import Event, events_to_logs
from sv_otel.sessions import HIGHLIGHT_SCHEMA_PATH

T0 = 1709856000000
"""2024-03-08T00:00:00.000Z in epoch milliseconds."""


def ev(
    name: str = "$pageview",
    ts: int = T0,
    /,
    *,
    sid: str = "s1",
    anon: str | None = "a1",
    user: str | None = None,
    **props: Any,
) -> Event:
    """An event of session ``sid`` at ``ts`` with ``props`` (``dollar_x`` spells ``$x``)."""
    properties = {(f"${k[7:]}" if k.startswith("dollar_") else k): v for k, v in props.items()}
    return Event(
        event=name,
        timestamp=ts,
        properties=properties,
        anonymous_id=anon,
        user_id=user,
        session_id=sid,
    )


def highlight_validator() -> Draft202012Validator:
    """A validator of the shipped Highlight schema that also checks ``format``."""
    schema = json.loads(HIGHLIGHT_SCHEMA_PATH.read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def log_record(event: Event) -> LogRecord:
    """The OTLP log record sv_otel makes of ``event``."""
    request = events_to_logs([event])
    return request.resource_logs[0].scope_logs[0].log_records[0]


def attributes(record: LogRecord) -> dict[str, Any]:
    """A log record's attributes as plain Python values."""
    return {kv.key: _value(kv.value) for kv in record.attributes}


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return None if kind is None else getattr(value, kind)
