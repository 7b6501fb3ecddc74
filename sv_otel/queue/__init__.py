"""The durable queue between receivers and exporters (sqlite in WAL mode, group commit)."""

from sv_otel.queue._codec import (
    EVENTS,
    LOG_RECORDS,
    SESSION_JSON,
    RecordCodec,
    is_log_records,
    is_session_json,
)
from sv_otel.queue._store import Record
from sv_otel.queue.durable import DurableQueue, decode_events, encode_events

__all__ = [
    "EVENTS",
    "LOG_RECORDS",
    "SESSION_JSON",
    "DurableQueue",
    "Record",
    "RecordCodec",
    "decode_events",
    "encode_events",
    "is_log_records",
    "is_session_json",
]
