"""The OTLP/HTTP exporter against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from sv_otel.errors import PermanentExportError, RetryableExportError
from sv_otel.event import Event
from sv_otel.exporter.otlp_http import OTLPHttpExporter
from sv_otel.exporter.otlp_settings import OTLPSettings
from tests.sinks import Failure, http_sink

pytestmark = pytest.mark.anyio

EVENTS = [Event(event="a", timestamp=1, session_id="s1", properties={"n": 1})]


@pytest.mark.parametrize("encoding", ["proto", "json"])
async def test_exports_in_either_encoding_with_gzip(encoding: str) -> None:
    async with http_sink() as (sink, port):
        settings = OTLPSettings(
            endpoint=f"http://127.0.0.1:{port}", encoding=encoding, compression="gzip"
        )
        exporter = OTLPHttpExporter("otlphttp", "logs", settings)
        await exporter.export(EVENTS)
        await exporter.shutdown()
    assert sink.session_event_names() == [("s1", "a")]
    (record,) = sink.log_records()
    assert {kv.key: kv.value.int_value for kv in record.attributes if kv.key == "n"} == {"n": 1}
    assert sink.headers[0]["content-encoding"] == "gzip"
    expected = "application/json" if encoding == "json" else "application/x-protobuf"
    assert sink.headers[0]["content-type"] == expected


async def test_503_with_retry_after_is_retryable_and_400_is_permanent() -> None:
    async with http_sink() as (sink, port):
        exporter = OTLPHttpExporter(
            "otlphttp", "traces", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
        )
        sink.fail_next(1, Failure(http_status=503, retry_after=4))
        with pytest.raises(RetryableExportError) as raised:
            await exporter.export(EVENTS)
        assert raised.value.retry_after == 4.0
        assert raised.value.message == "HTTP 503: scripted failure"
        sink.fail_next(1, Failure(http_status=400))
        with pytest.raises(PermanentExportError, match="HTTP 400: scripted failure"):
            await exporter.export(EVENTS)
        await exporter.export(EVENTS)
        await exporter.shutdown()
    assert len(sink.traces) == 1


async def test_connection_refused_is_retryable() -> None:
    async with http_sink() as (_, port):
        pass
    exporter = OTLPHttpExporter(
        "otlphttp", "logs", OTLPSettings(endpoint=f"http://127.0.0.1:{port}")
    )
    with pytest.raises(RetryableExportError, match="ConnectError"):
        await exporter.export(EVENTS)
    await exporter.shutdown()
