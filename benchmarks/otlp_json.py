"""OTLP/JSON codec throughput: ``sv_otel.otlp_json`` on one large logs and one metrics request.

Run: ``.venv/bin/python -m benchmarks.otlp_json [--records 100000] [--repeat 5]``

The logs request holds ``--records`` log records made from the benchmark corpus by
``events_to_logs`` (hex ids, 64-bit timestamps as strings, ~11 attributes each, doubles among
them); the metrics request holds as many gauge points with double values. Paths, per request:

* (dec) ``decode_json`` of the OTLP/JSON bytes
* (enc) ``encode_json`` of the message
* (parse) ``msgspec.json.decode`` of the same bytes alone, the floor under (dec)
* (pb) ``FromString`` of the binary protobuf of the same message, for scale

Absolute times depend on the machine; the ratios printed on the last line are comparable.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable

import msgspec
import orjson
from google.protobuf.message import Message
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
)

import sv_otel
from benchmarks.corpus import make_events
from sv_otel.otlp_json import decode_json, encode_json


def logs_request(records: int) -> ExportLogsServiceRequest:
    """One logs request of ``records`` log records translated from corpus events."""
    limits = sv_otel.Limits(max_body_bytes=2**31 - 1, max_events=records)
    body = msgspec.json.encode(make_events(records))
    return sv_otel.events_to_logs(sv_otel.parse_batch(body, limits=limits).events)


def metrics_request(points: int, seed: int = 7) -> ExportMetricsServiceRequest:
    """One metrics request of ``points`` double gauge points in 100 metrics."""
    rnd = random.Random(seed)
    metrics = [
        Metric(
            name=f"metric.{m}",
            gauge=Gauge(
                data_points=[
                    NumberDataPoint(
                        time_unix_nano=1_709_856_000_000_000_000 + i,
                        as_double=rnd.random() * 1e6,
                    )
                    for i in range(points // 100)
                ]
            ),
        )
        for m in range(100)
    ]
    return ExportMetricsServiceRequest(
        resource_metrics=[ResourceMetrics(scope_metrics=[ScopeMetrics(metrics=metrics)])]
    )


def best(repeat: int, run: Callable[[], object]) -> float:
    """The fastest of ``repeat`` runs, in seconds."""
    fastest = float("inf")
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        run()
        fastest = min(fastest, time.perf_counter() - start)
    return fastest


def measure(name: str, message: Message, repeat: int) -> dict[str, float]:
    """Time the four paths on one message; print and return the seconds of each."""
    body = encode_json(message)
    binary = message.SerializeToString()
    cls = type(message)
    assert decode_json(body, cls) == message
    seconds = {
        "dec": best(repeat, lambda: decode_json(body, cls)),
        "enc": best(repeat, lambda: encode_json(message)),
        "parse": best(repeat, lambda: msgspec.json.decode(body)),
        "pb": best(repeat, lambda: cls.FromString(binary)),
    }
    print(f"{name}: {len(body) / 1e6:.1f} MB of JSON")
    for path, value in seconds.items():
        print(f"  {path:<6}{value * 1e3:>10.1f} ms")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    logs = measure(f"logs, {args.records} records", logs_request(args.records), args.repeat)
    metrics = measure(f"metrics, {args.records} points", metrics_request(args.records), args.repeat)
    ratios = {
        "logs_dec/parse": logs["dec"] / logs["parse"],
        "logs_enc/parse": logs["enc"] / logs["parse"],
        "metrics_dec/parse": metrics["dec"] / metrics["parse"],
        "metrics_enc/parse": metrics["enc"] / metrics["parse"],
    }
    print(orjson.dumps({k: round(v, 3) for k, v in ratios.items()}).decode())


if __name__ == "__main__":
    main()
