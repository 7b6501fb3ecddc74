"""sv_otel's records as the OpenTelemetry Collector forwards them read back as the same events.

The Collector encodes every request afresh (its own field order, an empty ``body`` and
``span_id`` in every log record, an empty ``status`` in every span); the files in
``tests/testdata/otelcol/`` are what it forwarded of each golden case (see
``tests/collector/_capture.py``).
"""

from __future__ import annotations

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from sv_otel import TranslationStats, logs_to_events, spans_to_events
from tests.collector._capture import case_events, cases, golden_path, sv_otel_requests


def test_every_golden_case_was_captured() -> None:
    assert cases()
    for case in cases():
        for signal in ("logs", "traces"):
            assert golden_path(case, signal).is_file(), golden_path(case, signal)


@pytest.mark.parametrize("case", cases())
def test_log_records_forwarded_by_the_collector_read_back_exactly(case: str) -> None:
    forwarded = golden_path(case, "logs").read_bytes()
    ours = sv_otel_requests(case_events(case))["logs"]
    stats = TranslationStats()

    events = logs_to_events(forwarded, stats=stats)

    # The same message in other bytes, but for the empty body the Collector adds.
    request = ExportLogsServiceRequest.FromString(forwarded)
    for record in request.resource_logs[0].scope_logs[0].log_records:
        assert record.HasField("body")
        assert record.body == AnyValue()
        record.ClearField("body")
    assert request == ExportLogsServiceRequest.FromString(ours)
    assert forwarded != ours
    assert events == case_events(case)
    assert (stats.converted, stats.skipped) == (len(events), 0)


@pytest.mark.parametrize("case", cases())
def test_spans_forwarded_by_the_collector_read_back_exactly(case: str) -> None:
    forwarded = golden_path(case, "traces").read_bytes()
    ours = sv_otel_requests(case_events(case))["traces"]

    request = ExportTraceServiceRequest.FromString(forwarded)

    assert request.resource_spans[0].scope_spans[0].spans[0].HasField("status")
    assert forwarded != ours
    assert spans_to_events(forwarded) == case_events(case)
