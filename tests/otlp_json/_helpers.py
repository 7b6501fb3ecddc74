"""Helpers shared by the decoding tests: variants of the logs example and error capture."""

from __future__ import annotations

import copy
from typing import Any

import msgspec
import pytest
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import decode_json, decode_json_dict

from ._examples import LOGS_EXAMPLE

RECORD_PATH = "resourceLogs[0].scopeLogs[0].logRecords[0]"


def logs_with(**record: Any) -> dict[str, Any]:
    """``LOGS_EXAMPLE`` with the log record's keys replaced (``...`` deletes a key)."""
    data = copy.deepcopy(LOGS_EXAMPLE)
    target = data["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]
    for key, value in record.items():
        if value is ...:
            del target[key]
        else:
            target[key] = value
    return data


def first_record(data: dict[str, Any], *, strict_ids: bool = True) -> LogRecord:
    request = decode_json_dict(data, ExportLogsServiceRequest, strict_ids=strict_ids)
    return request.resource_logs[0].scope_logs[0].log_records[0]


def decode_error(data: object, message_type: type[Message] = ExportLogsServiceRequest) -> str:
    body = data if isinstance(data, (bytes, str)) else msgspec.json.encode(data)
    with pytest.raises(InvalidOTLPError) as caught:
        decode_json(body, message_type)
    assert caught.value.status_hint == 400
    return caught.value.message
