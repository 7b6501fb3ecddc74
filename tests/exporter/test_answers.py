"""A destination's words in our messages: on one line, escaped, short; counts bounded."""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsPartialSuccess,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceResponse,
)

from sv_otel.exporter.answers import MAX_QUOTED_CHARS, partial_success_warning, quote_answer


@pytest.mark.parametrize(
    ("text", "quoted"),
    [
        ("  busy, try later \n", "busy, try later"),
        ("bad\r\nsv-otel: INFO forged line", "bad\\r\\nsv-otel: INFO forged line"),
        ("nul\x00\x00 and bell\x07", "nul\\x00\\x00 and bell\\x07"),
        ("caf\u00e9 \u2603", "caf\u00e9 \u2603"),  # printable text is kept as it is
        ("x" * 1000, "x" * (MAX_QUOTED_CHARS - 3) + "..."),
        ("", ""),
    ],
)
def test_quote_answer(text: str, quoted: str) -> None:
    assert quote_answer(text) == quoted


def test_the_partial_success_warning_bounds_its_count_and_quotes_its_message() -> None:
    logs = ExportLogsServiceResponse(
        partial_success=ExportLogsPartialSuccess(
            rejected_log_records=10**18, error_message="z" * 100_000
        )
    )
    warning = partial_success_warning(logs, 10)
    assert warning is not None
    assert warning.startswith("the backend rejected 10 of 10 events: zzz")
    assert len(warning) < 300
    spans = ExportTraceServiceResponse(
        partial_success=ExportTracePartialSuccess(rejected_spans=2, error_message="a\nb")
    )
    assert partial_success_warning(spans, 5) == "the backend rejected 2 of 5 events: a\\nb"
    assert partial_success_warning(ExportTraceServiceResponse(), 5) is None
