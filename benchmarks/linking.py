"""Linking overhead: the session processors and propagator against the same pipeline without them.

Run: ``.venv/bin/python -m benchmarks.linking [--spans 3000] [--rounds 15]``

Every pair runs interleaved in one process (round by round, the fastest round of each kept), so
the ratios are comparable on a noisy, shared machine; absolute times are not. Measured:

* span start + end through a ``BatchSpanProcessor``, inside a request that carries a session
  (id, anonymous id, client user id), with ``SessionSpanProcessor`` added in front, against the
  same provider without it:

  - *pipeline*: the CPU time of the whole process (the request thread and the batch thread)
    until the spans are OTLP protobuf bytes (the exporter encodes them with OpenTelemetry's
    encoder and drops the bytes), for an HTTP server span with the ten attributes the FastAPI
    instrumentation sets;
  - *caller*: the request thread's CPU time alone, exporter a no-op, for that server span and
    for a bare internal child span (the worst case: stamping is all the work there is);
* ``SessionPropagator.extract`` against ``W3CBaggagePropagator.extract`` on the same headers:
  the browser's first hop (sessionvision headers, ``traceparent`` and a three-entry
  ``baggage``), and a downstream hop (``traceparent`` and ``baggage`` only).

Targets: span ratio at most 1.05 (the pipeline ratio; the caller ratios show where the cost
falls); extract ratio at most 2. The last line printed is one JSON object with the ratios.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind

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


SESSION_ATTRIBUTES = {
    "session.id": SESSION,
    "enduser.pseudo.id": FIRST_HOP["x-sessionvision-anonymous-id"],
    "sessionvision.client.user.id": FIRST_HOP["x-sessionvision-user-id"],
}
"""What the processor stamps on every span of a FIRST_HOP request."""


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


def pipeline_run(
    tracer_provider: TracerProvider, count: int, inline: bool = False
) -> Callable[[], None]:
    spans = spans_run(tracer_provider, count, server=True, inline=inline)

    def run() -> None:
        spans()
        tracer_provider.force_flush()

    return run


def spans_run(
    tracer_provider: TracerProvider, count: int, server: bool, inline: bool = False
) -> Callable[[], None]:
    """Start and end ``count`` spans; ``inline`` passes the session attributes at start."""
    tracer = tracer_provider.get_tracer("benchmarks.linking")
    kind = SpanKind.SERVER if server else SpanKind.INTERNAL
    attributes: dict[str, str | int] | None = dict(SERVER_ATTRIBUTES) if server else None
    if inline:
        attributes = {**(attributes or {}), **SESSION_ATTRIBUTES}
    name = "GET /api/checkout" if server else "load cart"

    def run() -> None:
        for _ in range(count):
            tracer.start_span(name, kind=kind, attributes=attributes).end()

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
    """The fastest of ``rounds`` rounds of each run, the runs taking turns.

    Times are CPU seconds (of this thread, or with ``time.process_time`` of every thread), so
    the time a shared machine gives to other processes is not counted.
    """
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds):
        for name, run in runs.items():
            start = clock()
            run()
            best[name] = min(best[name], clock() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--spans", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    baseline, stamped = provider(with_session=False), provider(with_session=True)
    encoding = provider(False, EncodingExporter())
    encoding_stamped = provider(True, EncodingExporter())
    request = SessionPropagator().extract(FIRST_HOP, Context())
    token = otel_context.attach(request)
    try:
        pipeline_times = interleaved(
            {
                "pipeline": pipeline_run(encoding, args.spans),
                "pipeline+session": pipeline_run(encoding_stamped, args.spans),
                "pipeline+inline": pipeline_run(encoding, args.spans, inline=True),
            },
            args.rounds,
            time.process_time,
        )
        span_times = interleaved(
            {
                "server": spans_run(baseline, args.spans, server=True),
                "server+session": spans_run(stamped, args.spans, server=True),
                "server+inline": spans_run(baseline, args.spans, server=True, inline=True),
                "internal": spans_run(baseline, args.spans, server=False),
                "internal+session": spans_run(stamped, args.spans, server=False),
            },
            args.rounds,
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
        for name, seconds in {**pipeline_times, **span_times}.items()
    }
    per_extract = {name: seconds / count * 1e6 for name, seconds in extract_times.items()}
    for name, micros in {**per_span, **per_extract}.items():
        print(f"{name:22s} {micros:8.2f} us")
    ratios = {
        "span_pipeline_ratio": round(
            pipeline_times["pipeline+session"] / pipeline_times["pipeline"], 3
        ),
        "span_pipeline_vs_inline_ratio": round(
            pipeline_times["pipeline+session"] / pipeline_times["pipeline+inline"], 3
        ),
        "span_caller_server_ratio": round(span_times["server+session"] / span_times["server"], 3),
        "span_caller_internal_ratio": round(
            span_times["internal+session"] / span_times["internal"], 3
        ),
        "extract_first_hop_ratio": round(
            extract_times["session first hop"] / extract_times["w3c first hop"], 3
        ),
        "extract_downstream_ratio": round(
            extract_times["session downstream"] / extract_times["w3c downstream"], 3
        ),
        "targets": {"span": 1.05, "extract": 2.0},
    }
    print(json.dumps(ratios))


if __name__ == "__main__":
    main()
