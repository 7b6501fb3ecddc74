"""The durable queue between receivers and exporters (sqlite in WAL mode, group commit)."""

from sv_otel.queue._store import Record
from sv_otel.queue.durable import DurableQueue, decode_events, encode_events

__all__ = ["DurableQueue", "Record", "decode_events", "encode_events"]
