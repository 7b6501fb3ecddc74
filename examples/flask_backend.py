"""A Flask backend whose spans and logs carry the browser's session, set up in code.

``setup_telemetry()`` is the whole integration: ``sv_otel.instrument(...)`` before the exporting
processors, then OpenTelemetry's own Flask and requests instrumentations::

    python examples/flask_backend.py --port 8001
    curl -H 'baggage: session.id=a1b2c3d4-e5f6-4711-8899-aabbccddeeff' localhost:8001/stock

It exports to the console, or over OTLP/HTTP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set.
``DOWNSTREAM_URL``, if set, is called through ``requests`` and receives the session in
``baggage``.
"""

from __future__ import annotations

import argparse
import contextvars
import logging
import os
import threading

import requests
from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from opentelemetry import trace
from opentelemetry._logs import set_logger_provider
from opentelemetry.instrumentation.flask import FlaskInstrumentor
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    ConsoleLogRecordExporter,
    LogRecordExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from werkzeug.serving import make_server

import sv_otel

logger = logging.getLogger("examples.inventory")
logger.setLevel(logging.INFO)
tracer = trace.get_tracer("examples.inventory")

app = Flask(__name__)


def _exporters() -> tuple[SpanExporter, LogRecordExporter]:
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(), OTLPLogExporter()
    return ConsoleSpanExporter(), ConsoleLogRecordExporter()


def setup_telemetry() -> tuple[TracerProvider, LoggerProvider]:
    """Providers with the session processors first, then exporters; then instrument Flask."""
    resource = Resource.create({"service.name": "inventory"})
    tracer_provider = TracerProvider(resource=resource)
    logger_provider = LoggerProvider(resource=resource)
    sv_otel.instrument(tracer_provider=tracer_provider, logger_provider=logger_provider)
    span_exporter, log_exporter = _exporters()
    tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
    trace.set_tracer_provider(tracer_provider)
    set_logger_provider(logger_provider)
    logging.getLogger().addHandler(LoggingHandler(logger_provider=logger_provider))
    FlaskInstrumentor().instrument_app(app, tracer_provider=tracer_provider)
    RequestsInstrumentor().instrument(tracer_provider=tracer_provider)
    return tracer_provider, logger_provider


def reserve(item: str) -> None:
    with tracer.start_as_current_span("reserve"):
        logger.info("reserved %s", item)


@app.get("/stock")
def stock() -> ResponseReturnValue:
    logger.info("stock lookup")
    with tracer.start_as_current_span("read stock"):
        count = 3
    # A worker thread keeps the request's session when it runs in a copy of the context.
    worker = threading.Thread(target=contextvars.copy_context().run, args=(reserve, "book"))
    worker.start()
    worker.join()
    downstream = os.environ.get("DOWNSTREAM_URL")
    if downstream:
        requests.get(downstream, timeout=5)
    session = sv_otel.current_session()
    return jsonify(session_id=session.session_id if session else None, count=count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    tracer_provider, logger_provider = setup_telemetry()
    server = make_server(args.host, args.port, app, threaded=True)
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        tracer_provider.shutdown()
        logger_provider.shutdown()


if __name__ == "__main__":
    main()
