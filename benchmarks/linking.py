"""Linking overhead: the session processors and propagator against the same pipeline without them.

Run: ``.venv/bin/python -m benchmarks.linking [--spans 1000] [--rounds 40]``

Every group of runs is interleaved in one process, round by round in a shuffled order, and the
fastest round of each run is kept, so the ratios are comparable on a noisy, shared machine;
absolute times are not. Times are CPU seconds, so what other processes take is not counted.
All spans are made inside a request that carries a session (id, anonymous id, client user id);
"with the session processor" means ``SessionSpanProcessor`` added in front of a
``BatchSpanProcessor``, against the same provider without it.

**The span target** (work item: span start + end through a ``BatchSpanProcessor`` costs at most
5% more with ``SessionSpanProcessor``) is the *caller ratio of a typical server span*
(``span_ratio``): the CPU time of the request thread (the exporter a no-op) for the span calls
that OpenTelemetry's HTTP server instrumentations (ASGI for FastAPI/Starlette, WSGI for Flask)
make for one request, which are:

1. ``start_span(name, context=<the extracted request context>, kind=SERVER,
   attributes=<the ten request attributes>)``;
2. each request attribute set again with ``set_attribute`` (both instrumentations do this);
3. the span made current while the handler runs (``trace.use_span``), and in it the response
   status code set (``set_attribute``) and the status set (``set_status``);
4. ``end()``.

Also printed, not targets:

* ``span_caller_minimal_server_ratio``: the request thread for step 1 and 4 alone (a server
  span started with its attributes and ended, nothing else);
* ``span_caller_bare_ratio``: the request thread for a bare internal child span started in the
  current context and ended (the worst case: stamping is all the work there is);
* ``span_pipeline_ratio`` (secondary): the CPU time of the whole process, the request thread and
  the batch thread, for the typical server span until it is OTLP protobuf bytes (the exporter
  encodes with OpenTelemetry's encoder and drops the bytes): this adds the encoding of the three
  extra attributes, which runs off the request thread;
* ``SessionPropagator.extract`` against ``W3CBaggagePropagator.extract`` on the same headers
  (target: at most 2): the browser's first hop (sessionvision headers, ``traceparent`` and a
  three-entry ``baggage``) and a downstream hop (``traceparent`` and ``baggage`` only).

The last line printed is one JSON object with the ratios.

CPU times on a loaded machine are noisy; instruction counts are not. ``--only baseline`` /
``--only session`` make typical server spans and nothing else, for ``valgrind --tool=callgrind``
(with ``PYTHONHASHSEED=0``, under ``setarch -R``); the difference between ``--spans 1000`` and
``--spans 0``, divided by 1000, is the instructions per span.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from sv_otel import SessionPropagator, SessionSpanProcessor

SESSION = "a1b2c3d4-e5f6-4711-8899-aabbccddeeff"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
FIRST_HOP = {
    "traceparent": TRACEPARENT,
    "baggage": "tenant=acme,plan=pro,region=eu-west-1",
    "x-sessionvision-session-id": SESSION,
    "x-sessionvision-anonymous-id": "550e8400-e29b-41d4-a716-446655440000",
    "x-sessionvision-user-id": "user_456",
    "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36",
    "accept": "application/json",
}
DOWNSTREAM_HOP = {"traceparent": TRACEPARENT, "baggage": f"tenant=acme,session.id={SESSION}"}
SERVER_ATTRIBUTES: dict[str, str | int] = {
    "http.request.method": "GET",
    "url.scheme": "http",
    "url.path": "/api/checkout",
    "url.query": "step=2",
    "network.protocol.version": "1.1",
    "server.address": "127.0.0.1",
    "server.port": 8000,
    "client.address": "127.0.0.1",
    "user_agent.original": FIRST_HOP["user-agent"],
    "http.route": "/api/checkout",
}


class NullExporter(SpanExporter):
    """Drops every batch: the caller's side alone is measured."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""


class EncodingExporter(NullExporter):
    """Encodes every batch to OTLP protobuf bytes, as an OTLP exporter does, then drops them."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        encode_spans(spans).SerializeToString()
        return SpanExportResult.SUCCESS


def provider(with_session: bool, exporter: SpanExporter | None = None) -> TracerProvider:
    tracer_provider = TracerProvider()
    if with_session:
        tracer_provider.add_span_processor(SessionSpanProcessor())
    tracer_provider.add_span_processor(
        BatchSpanProcessor(exporter or NullExporter(), max_queue_size=1 << 16)
    )
    return tracer_provider


SpanShape = Callable[[Tracer, Context], None]
"""Makes one span, with ``Context`` the request's context (attached as the current one too)."""


def typical_server_span(tracer: Tracer, request: Context) -> None:
    """The span calls of OpenTelemetry's ASGI / WSGI server instrumentations for one request."""
    span = tracer.start_span(
        "GET /api/checkout", context=request, kind=SpanKind.SERVER, attributes=SERVER_ATTRIBUTES
    )
    if span.is_recording():
        for key, value in SERVER_ATTRIBUTES.items():
            span.set_attribute(key, value)
    with trace.use_span(span, end_on_exit=False):
        if span.is_recording():
            span.set_attribute("http.response.status_code", 200)
        if span.is_recording():
            span.set_status(_UNSET)
    span.end()


def minimal_server_span(tracer: Tracer, request: Context) -> None:
    """A server span started with its request attributes and ended, nothing else."""
    tracer.start_span(
        "GET /api/checkout", context=request, kind=SpanKind.SERVER, attributes=SERVER_ATTRIBUTES
    ).end()


def bare_span(tracer: Tracer, request: Context) -> None:
    """An internal child span in the current context, started and ended."""
    tracer.start_span("load cart").end()


_UNSET: Final = Status(StatusCode.UNSET)


def spans_run(
    tracer_provider: TracerProvider, count: int, shape: SpanShape, flush: bool = False
) -> Callable[[], None]:
    """Make ``count`` spans of ``shape`` (then, with ``flush``, wait until they are exported)."""
    tracer = tracer_provider.get_tracer("benchmarks.linking")

    def run() -> None:
        request = otel_context.get_current()
        for _ in range(count):
            shape(tracer, request)
        if flush:
            tracer_provider.force_flush()

    return run


def extract_run(
    propagator: SessionPropagator | W3CBaggagePropagator, headers: Mapping[str, str], count: int
) -> Callable[[], None]:
    def run() -> None:
        for _ in range(count):
            propagator.extract(headers, Context())

    return run


def interleaved(
    runs: dict[str, Callable[[], None]],
    rounds: int,
    clock: Callable[[], float] = time.thread_time,
) -> dict[str, float]:
    """The fastest of ``rounds`` rounds of each run, the runs taking turns in a shuffled order.

    Times are CPU seconds (of this thread, or with ``time.process_time`` of every thread), so
    the time a shared machine gives to other processes is not counted.
    """
    best = dict.fromkeys(runs, float("inf"))
    order = list(runs)
    shuffle = random.Random(0).shuffle
    for _ in range(rounds):
        shuffle(order)
        for name in order:
            start = clock()
            runs[name]()
            best[name] = min(best[name], clock() - start)
    return best


def only(with_session: bool, count: int) -> None:
    """Make ``count`` typical server spans, nothing else (``--only``)."""
    tracer_provider = TracerProvider()
    if with_session:
        tracer_provider.add_span_processor(SessionSpanProcessor())
    # One batch, exported at shutdown: the batch thread stays idle while the spans are made.
    tracer_provider.add_span_processor(
        BatchSpanProcessor(
            NullExporter(),
            max_queue_size=count + 256,
            max_export_batch_size=count + 256,
            schedule_delay_millis=3_600_000,
        )
    )
    token = otel_context.attach(SessionPropagator().extract(FIRST_HOP, Context()))
    try:
        spans_run(tracer_provider, 200, typical_server_span)()
        spans_run(tracer_provider, count, typical_server_span)()
    finally:
        otel_context.detach(token)
        tracer_provider.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spans", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument(
        "--only",
        choices=["baseline", "session"],
        help="make --spans typical server spans (after 200 to warm up) without or with the "
        "session processor, measure nothing: for instruction counts under valgrind",
    )
    args = parser.parse_args()
    if args.only:
        only(args.only == "session", args.spans)
        return

    baseline, stamped = provider(with_session=False), provider(with_session=True)
    encoding = provider(False, EncodingExporter())
    encoding_stamped = provider(True, EncodingExporter())
    request = SessionPropagator().extract(FIRST_HOP, Context())
    token = otel_context.attach(request)
    try:
        span_times = interleaved(
            {
                "typical server": spans_run(baseline, args.spans, typical_server_span),
                "typical server+session": spans_run(stamped, args.spans, typical_server_span),
                "minimal server": spans_run(baseline, args.spans, minimal_server_span),
                "minimal server+session": spans_run(stamped, args.spans, minimal_server_span),
                "bare": spans_run(baseline, args.spans, bare_span),
                "bare+session": spans_run(stamped, args.spans, bare_span),
            },
            args.rounds,
        )
        pipeline_times = interleaved(
            {
                "pipeline": spans_run(encoding, args.spans, typical_server_span, flush=True),
                "pipeline+session": spans_run(
                    encoding_stamped, args.spans, typical_server_span, flush=True
                ),
            },
            args.rounds,
            time.process_time,
        )
    finally:
        otel_context.detach(token)
        for tracer_provider in (baseline, stamped, encoding, encoding_stamped):
            tracer_provider.shutdown()

    session, w3c = SessionPropagator(), W3CBaggagePropagator()
    count = args.spans * 3
    extract_times = interleaved(
        {
            "w3c first hop": extract_run(w3c, FIRST_HOP, count),
            "session first hop": extract_run(session, FIRST_HOP, count),
            "w3c downstream": extract_run(w3c, DOWNSTREAM_HOP, count),
            "session downstream": extract_run(session, DOWNSTREAM_HOP, count),
        },
        args.rounds,
    )

    per_span = {
        name: seconds / args.spans * 1e6
        for name, seconds in {**span_times, **pipeline_times}.items()
    }
    per_extract = {name: seconds / count * 1e6 for name, seconds in extract_times.items()}
    for name, micros in {**per_span, **per_extract}.items():
        print(f"{name:24s} {micros:8.2f} us")

    def ratio(times: dict[str, float], name: str, base: str) -> float:
        return round(times[name] / times[base], 3)

    print(
        json.dumps(
            {
                "span_ratio": ratio(span_times, "typical server+session", "typical server"),
                "span_caller_minimal_server_ratio": ratio(
                    span_times, "minimal server+session", "minimal server"
                ),
                "span_caller_bare_ratio": ratio(span_times, "bare+session", "bare"),
                "span_pipeline_ratio": ratio(pipeline_times, "pipeline+session", "pipeline"),
                "extract_first_hop_ratio": ratio(
                    extract_times, "session first hop", "w3c first hop"
                ),
                "extract_downstream_ratio": ratio(
                    extract_times, "session downstream", "w3c downstream"
                ),
                "targets": {"span": 1.05, "extract": 2.0},
            }
        )
    )


if __name__ == "__main__":
    main()
