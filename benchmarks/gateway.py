"""Gateway throughput: gzip batches over HTTP into ``sv-otel serve``, out to an OTLP gRPC sink.

Run: ``.venv/bin/python -m benchmarks.gateway [--seconds 6] [--concurrency 32]``

Three processes besides this one, all on loopback: the gateway (``sv-otel serve --workers N``,
a logs pipeline exporting over OTLP/gRPC), a load generator and an OTLP gRPC sink. For 1 and
then 2 workers it reports the events/s the sink received during a steady-state window, the
requests/s the gateway acknowledged, each worker's peak RSS, and the CPU (in cores) of each
worker, of the load generator and of the sink over the same window. Absolute numbers on a
shared machine are noisy, so the figures that matter are ratios against the translate-only
throughput (``benchmarks/translate.py`` path a': ``parse_batch`` + ``encode_logs`` of
1000-event batches) measured in the same run, best of one measurement before and one after.

The load is ``--concurrency`` keep-alive HTTP/1.1 connections, each with one request in flight
(32 browsers, each posting its next batch once the last was answered); every request is a
gzip'd batch of 10 SDK-shaped events. The machine has two cores for all of this, so the load
generator is made as cheap as it can be in Python: the requests are built before the run, and
each connection is an asyncio protocol on uvloop that finds the status and
``Content-Length`` of an answer and writes the next request from ``data_received`` (no streams,
no tasks, one write and one read per request). It does not pipeline requests: browsers never do,
and the gateway, like uvicorn, answers a connection's pipelined requests one after the other,
so pipelining would measure fewer, longer round trips rather than more concurrent requests. The
sink counts the log records of each request by walking the protobuf wire format (sv_otel's own
reader of request envelopes) instead of decoding every record, for the same reason.

After each run the gateway is stopped gracefully (it exports what is queued, for up to its
``shutdown_timeout``), and the sink's total is compared with the events the gateway
acknowledged: ``delivered`` is at least ``acknowledged`` unless events were left queued.
The last line printed is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gzip
import multiprocessing
import os
import signal
import tempfile
import time
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any, cast

import orjson

import sv_otel
from benchmarks.corpus import make_bodies, make_events
from benchmarks.processes import cpu_seconds, free_port, peak_rss_mib, start_serve, worker_pids

_PATH = "/api/v1/ingest/events"
# The logs pipeline only: the translate-only baseline encodes logs, so the ratio compares like
# with like (a traces pipeline costs one more translation of every event).
_CONFIG = """
receivers: {sessionvision: null}
exporters: {file: null}
service:
  pipelines:
    logs: {receivers: [sessionvision], exporters: [file]}
  queue: {synchronous: %s}
"""


def translate_only(events: int = 50_000, batch: int = 1000, repeat: int = 3) -> float:
    """Events/s of ``parse_batch`` + ``encode_logs`` on the translate benchmark's corpus."""
    bodies = make_bodies(make_events(events), batch)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for body in bodies:
            sv_otel.encode_logs(sv_otel.parse_batch(body).events)
        best = min(best, time.perf_counter() - start)
    return events / best


def _sink(port: int, received: Synchronized[int], ready: Any) -> None:
    """An OTLP gRPC server counting log records, accepting spans (runs in its own process)."""
    import grpc

    from sv_otel.translate import count_records

    async def logs(request: bytes, context: Any) -> bytes:
        count = count_records(request)
        with received.get_lock():
            received.value += count
        return b""  # an empty Export*ServiceResponse

    async def traces(request: bytes, context: Any) -> bytes:
        return b""

    async def serve() -> None:
        server = grpc.aio.server()
        for service, handler in (
            ("opentelemetry.proto.collector.logs.v1.LogsService", logs),
            ("opentelemetry.proto.collector.trace.v1.TraceService", traces),
        ):
            method: grpc.RpcMethodHandler[bytes, bytes] = grpc.unary_unary_rpc_method_handler(
                handler  # bytes in, bytes out
            )
            server.add_generic_rpc_handlers(
                (grpc.method_handlers_generic_handler(service, {"Export": method}),)
            )
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    asyncio.run(serve())


class _Connection(asyncio.Protocol):
    """One keep-alive connection with one request in flight (see the module docstring)."""

    def __init__(
        self, requests: list[bytes], first: int, deadline: float, counts: list[int]
    ) -> None:
        self.requests = requests
        self.index = first
        self.deadline = deadline
        self.counts = counts
        self.buffer = bytearray()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's does not subclass it
        self._send()

    def _send(self) -> None:
        assert self.transport is not None
        self.transport.write(self.requests[self.index % len(self.requests)])
        self.index += 1

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        while True:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            at = buffer.find(b"content-length:", 0, end)
            if at < 0:  # not how the gateway writes it: read the head the slow way
                at = bytes(buffer[:end]).lower().find(b"content-length:")
            total = end + 4 + int(buffer[at + 15 : buffer.find(b"\r\n", at)])
            if len(buffer) < total:
                return
            self.counts[0 if buffer[9:12] == b"200" else 1] += 1
            del buffer[:total]
            if time.monotonic() >= self.deadline:
                assert self.transport is not None
                self.transport.close()
                return
            self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


def _load(port: int, concurrency: int, seconds: float, result: Any) -> None:
    """Post gzip'd 10-event batches over keep-alive connections (runs in its own process)."""
    bodies = [gzip.compress(b) for b in make_bodies(make_events(20_000), 10)]
    requests = [
        (
            f"POST {_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Encoding: gzip\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    counts = [0, 0]  # 200, other

    async def main() -> None:
        loop = asyncio.get_running_loop()
        deadline = time.monotonic() + seconds
        step = len(requests) // concurrency
        connections = []
        for i in range(concurrency):
            _, connection = await loop.create_connection(
                functools.partial(_Connection, requests, i * step, deadline, counts),
                "127.0.0.1",
                port,
            )
            connections.append(connection)
        await asyncio.gather(*(connection.closed for connection in connections))

    import uvloop

    uvloop.run(main())
    result.put({"ok": counts[0], "other": counts[1]})


def run_gateway(
    workers: int, concurrency: int, seconds: float, warmup: float, synchronous: str = "full"
) -> dict[str, Any]:
    """One measurement: start sink, gateway and load; return the figures."""
    context = multiprocessing.get_context("spawn")
    received: Synchronized[int] = context.Value("q", 0)
    ready = context.Event()
    sink_port, port = free_port(), free_port()
    sink = context.Process(target=_sink, args=(sink_port, received, ready))
    sink.start()
    ready.wait(30)
    assert sink.pid is not None
    with tempfile.TemporaryDirectory() as data_dir:
        config = Path(data_dir) / "sv-otel.yaml"
        config.write_text(_CONFIG % synchronous)
        gateway = start_serve(
            [
                "--config",
                str(config),
                "--ingest-address",
                f"127.0.0.1:{port}",
                "--export-otlp",
                f"http://127.0.0.1:{sink_port}",
                "--export-protocol",
                "grpc",
                "--data-dir",
                data_dir,
            ],
            workers=workers,
        )
        result = context.Queue()
        load = context.Process(target=_load, args=(port, concurrency, warmup + seconds, result))
        load.start()
        time.sleep(warmup)
        assert load.pid is not None
        pids = worker_pids(gateway.pid, workers)
        others = [load.pid, sink.pid]
        cpu_start = [cpu_seconds(pid) for pid in pids + others]
        start_count, start = received.value, time.monotonic()
        time.sleep(seconds)
        events = received.value - start_count
        elapsed = time.monotonic() - start
        busy = [
            (cpu_seconds(p) - c) / elapsed for p, c in zip(pids + others, cpu_start, strict=True)
        ]
        counts = result.get(timeout=60)
        load.join()
        rss = [peak_rss_mib(pid) for pid in worker_pids(gateway.pid, workers)]
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(120)
    delivered = received.value
    sink.terminate()
    sink.join()
    return {
        "workers": workers,
        "events_per_s": events / elapsed,
        "requests_per_s": counts["ok"] / (warmup + seconds),
        "non_200": counts["other"],
        "acknowledged": counts["ok"] * 10,
        "delivered": delivered,
        "peak_rss_mib": [round(r, 1) for r in rss],
        "cpu_per_worker": [round(b, 2) for b in busy[:workers]],
        "cpu_load_generator": round(busy[workers], 2),
        "cpu_sink": round(busy[workers + 1], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--synchronous",
        choices=("full", "normal"),
        default="full",
        help="the queue's durability: full (the default: fsync per commit) or normal",
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")

    # The machine is shared: take the better of a baseline before and one after the gateway runs.
    before = translate_only()
    runs = [
        run_gateway(n, args.concurrency, args.seconds, args.warmup, args.synchronous)
        for n in (1, 2)
    ]
    baseline = max(before, translate_only())
    one, two = runs
    print(f"translate-only (parse_batch + encode_logs): {baseline:,.0f} events/s")
    for run in runs:
        print(
            f"{run['workers']} worker(s): {run['events_per_s']:,.0f} events/s exported, "
            f"{run['requests_per_s']:,.0f} requests/s acknowledged, "
            f"non-200 {run['non_200']}, peak RSS MiB {run['peak_rss_mib']}, "
            f"CPU (cores) per worker {run['cpu_per_worker']}, "
            f"load generator {run['cpu_load_generator']}, sink {run['cpu_sink']}; "
            f"delivered {run['delivered']:,} of {run['acknowledged']:,} acknowledged"
        )
    figures = {
        "queue_synchronous": args.synchronous,
        "translate_events_per_s": round(baseline),
        "workers_1_events_per_s": round(one["events_per_s"]),
        "workers_2_events_per_s": round(two["events_per_s"]),
        "ratio_1_worker_to_translate": round(one["events_per_s"] / baseline, 4),
        "ratio_2_workers_to_1": round(two["events_per_s"] / one["events_per_s"], 4),
        # Throughput per core the worker actually got: steadier on a shared machine.
        "events_per_worker_cpu_second": round(
            one["events_per_s"] / max(one["cpu_per_worker"][0], 0.01)
        ),
        "peak_rss_mib_per_worker": max(one["peak_rss_mib"] + two["peak_rss_mib"]),
        "cpu_cores": {
            f"workers_{run['workers']}": {
                "workers": run["cpu_per_worker"],
                "load_generator": run["cpu_load_generator"],
                "sink": run["cpu_sink"],
            }
            for run in runs
        },
        "all_delivered": all(run["delivered"] >= run["acknowledged"] for run in runs),
        "targets": {
            "ratio_1_worker_to_translate": 0.3,
            "ratio_2_workers_to_1": 1.6,
            "peak_rss_mib_per_worker": 250,
        },
    }
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
