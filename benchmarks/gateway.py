"""Gateway throughput: gzip batches over HTTP into ``sv-otel serve``, out to an OTLP gRPC sink.

Run: ``.venv/bin/python -m benchmarks.gateway [--seconds 6] [--concurrency 32]``

Three processes besides this one, all on loopback: the gateway (``sv-otel serve --workers N``,
a logs pipeline exporting over OTLP/gRPC), a load generator (keep-alive HTTP/1.1 connections,
``--concurrency`` requests in flight, each a gzip'd batch of 10 SDK-shaped events) and an OTLP
gRPC sink that counts the log records it receives. For 1 and then 2 workers it reports the
events/s the sink received during a steady-state window, the requests/s the gateway
acknowledged, and each worker's peak RSS. Absolute numbers on a shared machine are noisy, so
the figures that matter are ratios against the translate-only throughput
(``benchmarks/translate.py`` path a': ``parse_batch`` + ``encode_logs``) measured in the same
run. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import orjson

import sv_otel
from benchmarks.corpus import make_bodies, make_events

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
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:
            count = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
            with received.get_lock():
                received.value += count
            return logs_service_pb2.ExportLogsServiceResponse()

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:
            return trace_service_pb2.ExportTraceServiceResponse()

    async def serve() -> None:
        server = grpc.aio.server()
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    asyncio.run(serve())


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
    counts = {"ok": 0, "other": 0}

    async def connection(offset: int, deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        index = offset
        while time.monotonic() < deadline:
            writer.write(requests[index % len(requests)])
            index += concurrency
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            counts["ok" if head[9:12] == b"200" else "other"] += 1
        writer.close()

    async def main() -> None:
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(connection(i, deadline) for i in range(concurrency)))

    import uvloop

    uvloop.run(main())
    result.put(counts)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _workers(pid: int, count: int) -> list[int]:
    if count == 1:
        return [pid]
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(c) for c in (task / "children").read_text().split()]
    # spawn starts a resource tracker too; the workers are the biggest children
    return sorted(children, key=_peak_rss_mib, reverse=True)[:count]


def run_gateway(
    workers: int, concurrency: int, seconds: float, warmup: float, synchronous: str = "full"
) -> dict[str, Any]:
    """One measurement: start sink, gateway and load; return the figures."""
    context = multiprocessing.get_context("spawn")
    received: Synchronized[int] = context.Value("q", 0)
    ready = context.Event()
    sink_port, port = _free_port(), _free_port()
    sink = context.Process(target=_sink, args=(sink_port, received, ready))
    sink.start()
    ready.wait(30)
    with tempfile.TemporaryDirectory() as data_dir:
        config = Path(data_dir) / "sv-otel.yaml"
        config.write_text(_CONFIG % synchronous)
        gateway = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sv_otel.cli",
                "serve",
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
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert gateway.stdout is not None
        for _ in range(workers):
            while " ready" not in gateway.stdout.readline():
                pass
        result = context.Queue()
        load = context.Process(target=_load, args=(port, concurrency, warmup + seconds, result))
        load.start()
        time.sleep(warmup)
        pids = _workers(gateway.pid, workers)
        cpu_start = [_cpu_seconds(pid) for pid in pids]
        start_count, start = received.value, time.monotonic()
        time.sleep(seconds)
        events = received.value - start_count
        elapsed = time.monotonic() - start
        busy = [(_cpu_seconds(p) - c) / elapsed for p, c in zip(pids, cpu_start, strict=True)]
        counts = result.get(timeout=60)
        load.join()
        rss = [_peak_rss_mib(pid) for pid in _workers(gateway.pid, workers)]
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(60)
    sink.terminate()
    sink.join()
    return {
        "workers": workers,
        "events_per_s": events / elapsed,
        "requests_per_s": counts["ok"] / (warmup + seconds),
        "non_200": counts["other"],
        "peak_rss_mib": [round(r, 1) for r in rss],
        "cpu_per_worker": [round(b, 2) for b in busy],
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
            f"CPU (cores) per worker {run['cpu_per_worker']}"
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
        "targets": {
            "ratio_1_worker_to_translate": 0.3,
            "ratio_2_workers_to_1": 1.6,
            "peak_rss_mib_per_worker": 250,
        },
    }
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
