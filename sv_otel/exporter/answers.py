"""What destinations answer, made fit for error messages and logs.

An answer's text comes from another system, which may be broken or hostile: it may hold line
breaks (a second, forged log line), NUL bytes, or megabytes. :func:`quote_answer` escapes what
is not printable and cuts the text short; :func:`partial_success_warning` says what an OTLP
``partial_success`` reported, its count bounded by what was sent.
"""

from __future__ import annotations

from typing import Final

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

__all__ = ["MAX_QUOTED_CHARS", "partial_success_warning", "quote_answer"]

MAX_QUOTED_CHARS: Final = 200
"""The most characters of an answer's text quoted in a message."""


def quote_answer(text: str) -> str:
    """``text`` on one line, unprintable characters escaped, at most :data:`MAX_QUOTED_CHARS`."""
    text = text.strip()
    if len(text) > MAX_QUOTED_CHARS:
        text = text[: MAX_QUOTED_CHARS - 3] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def partial_success_warning(
    response: ExportLogsServiceResponse | ExportTraceServiceResponse, sent: int
) -> str | None:
    """What a response's ``partial_success`` reports about ``sent`` records, or None if nothing.

    A count larger than what was sent is the backend's error, reported as all of them.
    """
    if isinstance(response, ExportLogsServiceResponse):
        rejected = response.partial_success.rejected_log_records
        message = response.partial_success.error_message
    else:
        rejected = response.partial_success.rejected_spans
        message = response.partial_success.error_message
    if not rejected and not message:
        return None
    return f"the backend rejected {min(rejected, sent)} of {sent} events: {quote_answer(message)}"
