"""Translation throughput: sv_otel against the paths a user would otherwise write.

Run: ``.venv/bin/python -m benchmarks.translate [--events 100000] [--batch 1000] [--repeat 5]``

All paths run on one generated corpus in one process, so the ratios are comparable even on a
noisy machine (absolute times are not). Each path handles one batch at a time and drops the result,
as a server does, with the garbage collector on and nothing else alive but the encoded batches.
Forward:

* (a) sv_otel ``parse_batch`` + ``events_to_logs`` + ``SerializeToString``
* (a') sv_otel ``parse_batch`` + ``encode_logs`` (the same request, serialised directly)
* (b) the OTel Python SDK: ``orjson.loads``, ``Logger.emit`` per event, the official OTLP encoder
* (c) ``orjson.loads`` of the same bytes alone

Reverse, from the protobuf bytes of the same events:

* (d) ``logs_to_events`` + ``dump_events``
* (e) ``ExportLogsServiceRequest.FromString`` + ``json_format.MessageToDict`` + ``orjson.dumps``
* (f) ``ExportLogsServiceRequest.FromString`` alone

The last line printed is one JSON object with the ratios.
"""

from __future__ import annotations

import argparse
import gc
import time
from collections.abc import Callable
from typing import Any

import orjson
from google.protobuf import json_format
from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs as otel_encode_logs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

import sv_otel
from benchmarks.corpus import make_bodies, make_events


def one_pass(inputs: list[bytes], run: Callable[[bytes], object]) -> float:
    """Seconds ``run`` takes over every input, one at a time, dropping each result."""
    gc.collect()
    start = time.perf_counter()
    for data in inputs:
        run(data)
    return time.perf_counter() - start


def best_of(
    repeat: int, paths: dict[str, tuple[list[bytes], Callable[[bytes], object]]]
) -> dict[str, float]:
    """The fastest pass of each path, in seconds, over ``repeat`` rounds.

    Rounds interleave the paths, so a burst of load from elsewhere on the machine slows every path
    of one round rather than all passes of one path.
    """
    best = dict.fromkeys(paths, float("inf"))
    for _ in range(repeat):
        for name, (inputs, run) in paths.items():
            best[name] = min(best[name], one_pass(inputs, run))
    return best


def sdk_path() -> Callable[[bytes], bytes]:
    """What a user without sv_otel writes: parse JSON, emit through the SDK, encode OTLP."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    logger = provider.get_logger("sessionvision")

    def run(data: bytes) -> bytes:
        for event in orjson.loads(data):
            attributes: dict[str, Any] = {"session.id": event["sessionId"]}
            if event["userId"] is not None:
                attributes["user.id"] = event["userId"]
            attributes["enduser.pseudo.id"] = event["anonymousId"]
            attributes.update(event["properties"])
            logger.emit(
                timestamp=event["timestamp"] * 1_000_000,
                event_name=event["event"],
                attributes=attributes,
            )
        encoded: bytes = otel_encode_logs(exporter.get_finished_logs()).SerializeToString()
        exporter.clear()
        return encoded

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    bodies = make_bodies(make_events(args.events), args.batch)
    encoded = [sv_otel.encode_logs(sv_otel.parse_batch(data).events) for data in bodies]
    forward: dict[str, Callable[[bytes], object]] = {
        "a": lambda d: sv_otel.events_to_logs(sv_otel.parse_batch(d).events).SerializeToString(),
        "a'": lambda d: sv_otel.encode_logs(sv_otel.parse_batch(d).events),
        "b": sdk_path(),
        "c": orjson.loads,
    }
    reverse: dict[str, Callable[[bytes], object]] = {
        "d": lambda p: sv_otel.dump_events(sv_otel.logs_to_events(p)),
        "e": lambda p: orjson.dumps(
            json_format.MessageToDict(ExportLogsServiceRequest.FromString(p))
        ),
        "f": ExportLogsServiceRequest.FromString,
    }
    paths = {name: (bodies, run) for name, run in forward.items()}
    paths.update({name: (encoded, run) for name, run in reverse.items()})
    seconds = best_of(args.repeat, paths)
    rate = {name: args.events / s for name, s in seconds.items()}
    print(f"{args.events} events, batches of {args.batch}, best of {args.repeat}")
    print(f"{'path':<6}{'events/s':>14}{'us/event':>12}")
    for name in paths:
        print(f"{name:<6}{rate[name]:>14,.0f}{1e6 / rate[name]:>12.2f}")
    ratios = {
        "a/b": rate["a"] / rate["b"],
        "a/c": rate["a"] / rate["c"],
        "a'/b": rate["a'"] / rate["b"],
        "a'/c": rate["a'"] / rate["c"],
        "d/e": rate["d"] / rate["e"],
        "d/f": rate["d"] / rate["f"],
    }
    targets = {"a/b": 10, "a/c": 0.4, "d/e": 10, "d/f": 0.1}
    for name, value in ratios.items():
        target = targets.get(name)
        verdict = "" if target is None else ("  ok" if value >= target else f"  below {target}")
        print(f"{name:<6}{value:>8.3f}{verdict}")
    print(
        orjson.dumps({"events_per_s": rate, **{k: round(v, 4) for k, v in ratios.items()}}).decode()
    )


if __name__ == "__main__":
    main()
