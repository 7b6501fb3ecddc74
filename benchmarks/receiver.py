"""Receiver throughput: OTLP logs into ``sv-otel serve``, out to a sessionvision ingest sink.

Run: ``.venv/bin/python -m benchmarks.receiver [--seconds 8] [--concurrency 16] [--sessions 64]``

Three processes besides this one, all on loopback: the gateway (``sv-otel serve --workers N``,
the ``otlp`` receiver in a logs pipeline exporting with the ``sessionvision`` exporter), a load
generator sending pre-encoded ``ExportLogsServiceRequest``\\ s of 512 records (``--concurrency``
in flight: one gRPC channel, or one keep-alive HTTP/1.1 connection, per caller; a refused
request makes its caller wait the server's retry hint, as the OTel exporters do) and a minimal
sessionvision ingest sink (a raw asyncio HTTP server that gunzips each body and counts its
events). The records are sessionvision events as sv_otel's own exporters write them, spread over
``--sessions`` sessions; the exporter posts one request per session of each delivered batch, as
the browser SDK does, so fewer sessions per batch means fewer, larger posts.

The figures come from a steady-state window after ``--warmup``. When the load outpaces delivery
the bounded queue (``--queue-size``) fills and the receiver throttles the load (503 /
``UNAVAILABLE``), so what is delivered is what the gateway sustains either way. The queue (64 MiB
by default) must hold more than a worker delivers while refused callers wait out the retry hint
(the default ``retry_after`` of 1 s): a smaller one runs dry during that wait and the figures
measure the waiting (with 16 MiB, two workers used under a core between them and delivered
less than one). ``--batch`` sets the exporter's ``batch.max_events``,
the most events one export carries (default 8192, as shipped). ``--max-sessions`` sets the
exporter's ``max_sessions`` (default 1, as shipped: one session per post, as the SDK sends
them); above 1, several sessions' events share a post, and the figures are not the headline.

For gRPC and HTTP/protobuf, with 1 and 2 workers, it reports the records/s the sink received in a
steady-state window, the records/s the receiver acknowledged, and the CPU (in cores) that the
workers, the load generator and the sink each used. The figure that matters is the ratio of
delivered records/s against the reverse translate-only throughput (``benchmarks/translate.py``
path d: ``logs_to_events`` + ``dump_events``) measured in the same run, since absolute numbers
on a shared machine are noisy. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import tempfile
import time
import zlib
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import msgspec
import orjson

import sv_otel
from benchmarks.corpus import make_bodies, make_events
from benchmarks.processes import cpu_seconds, free_port, peak_rss_mib, start_serve, worker_pids

_LOGS = "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
_RECORDS = 512
_CONFIG = """
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:%(grpc)d"}
      http: {endpoint: "127.0.0.1:%(http)d"}
exporters:
  sessionvision:
    endpoint: "http://127.0.0.1:%(sink)d"
    batch: {max_events: %(batch)d}
    max_sessions: %(max_sessions)d
service:
  pipelines:
    logs: {receivers: [otlp], exporters: [sessionvision]}
  queue: {max_size: %(queue)s, synchronous: %(synchronous)s}
  telemetry: {address: "127.0.0.1:%(telemetry)d"}
"""


def reverse_translate_only(events: int = 50_000, batch: int = 1000, repeat: int = 3) -> float:
    """Records/s of path d of ``benchmarks/translate.py`` on its corpus."""
    bodies = make_bodies(make_events(events), batch)
    encoded = [sv_otel.encode_logs(sv_otel.parse_batch(body).events) for body in bodies]
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for data in encoded:
            sv_otel.dump_events(sv_otel.logs_to_events(data))
        best = min(best, time.perf_counter() - start)
    return events / best


def make_requests(sessions: int, count: int = 240) -> list[bytes]:
    """``count`` pre-encoded logs requests of 512 records over ``sessions`` sessions.

    Enough distinct requests that a repeat is never taken for the resend of a delivered one
    (the exporter skips requests it delivered among its last 4096).
    """
    events = make_events(_RECORDS * count, sessions=sessions, seed=11)
    bodies = make_bodies(events, _RECORDS)
    return [sv_otel.encode_logs(sv_otel.parse_batch(body).events) for body in bodies]


def _sink(port: int, received: Synchronized[int], ready: Any) -> None:
    """A sessionvision ingest host that counts events and answers 200 (its own process)."""
    decode = msgspec.json.Decoder(list[msgspec.Raw]).decode
    answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}"

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length)
                count = len(decode(zlib.decompress(body, 31)))
                with received.get_lock():
                    received.value += count
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def serve() -> None:
        server = await asyncio.start_server(connection, "127.0.0.1", port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    import uvloop

    uvloop.run(serve())


def _load(
    protocol: str,
    port: int,
    concurrency: int,
    seconds: float,
    sessions: int,
    ready: Any,
    start: Any,
    result: Any,
) -> None:
    """Send pre-encoded requests for ``seconds`` (its own process); put the counts in ``result``."""
    requests = make_requests(sessions)
    counts = {"ok": 0, "other": 0}

    async def grpc_caller(offset: int, deadline: float) -> None:
        import grpc

        options = [("grpc.use_local_subchannel_pool", 1)]  # a connection of its own
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
            export: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(_LOGS)
            index = offset
            while time.monotonic() < deadline:
                try:
                    await export(requests[index % len(requests)], timeout=30)
                    counts["ok"] += 1
                    index += concurrency
                except grpc.aio.AioRpcError as error:
                    counts["other"] += 1
                    await asyncio.sleep(_grpc_retry_delay(error))

    async def http_caller(offset: int, deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        heads = [
            (
                f"POST /v1/logs HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                f"Content-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            + body
            for body in requests
        ]
        index = offset
        while time.monotonic() < deadline:
            writer.write(heads[index % len(heads)])
            head = await reader.readuntil(b"\r\n\r\n")
            length, retry_after = 0, 1.0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
                elif line[:12].lower() == b"retry-after:":
                    retry_after = float(line[12:])
            await reader.readexactly(length)
            if head[9:12] == b"200":
                counts["ok"] += 1
                index += concurrency
            else:
                counts["other"] += 1
                await asyncio.sleep(retry_after)
        writer.close()

    async def main() -> None:
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, start.wait)
        deadline = time.monotonic() + seconds
        caller = grpc_caller if protocol == "grpc" else http_caller
        await asyncio.gather(*(caller(i, deadline) for i in range(concurrency)))

    if protocol == "grpc":
        asyncio.run(main())  # grpc.aio wants the standard event loop
    else:
        import uvloop

        uvloop.run(main())
    result.put(counts)


def _grpc_retry_delay(error: Any) -> float:
    """The ``RetryInfo`` delay of a refused call (the trailer the Python exporter reads)."""
    from google.rpc.error_details_pb2 import RetryInfo

    for key, value in error.trailing_metadata() or ():
        if key == "google.rpc.retryinfo-bin":
            return float(RetryInfo.FromString(value).retry_delay.ToNanoseconds()) / 1e9
    return 1.0


def run(
    protocol: str,
    workers: int,
    *,
    concurrency: int,
    seconds: float,
    warmup: float,
    sessions: int,
    synchronous: str,
    queue: str,
    batch: int,
    max_sessions: int = 1,
    profile: str | None = None,
) -> dict[str, Any]:
    """One measurement: sink, gateway and load started, the steady window measured.

    With ``profile`` (one worker only), the gateway runs under cProfile, written there.
    """
    context = multiprocessing.get_context("spawn")
    received: Synchronized[int] = context.Value("q", 0)
    sink_ready, load_ready, start = context.Event(), context.Event(), context.Event()
    ports = {name: free_port() for name in ("grpc", "http", "sink", "telemetry")}
    sink = context.Process(target=_sink, args=(ports["sink"], received, sink_ready))
    sink.start()
    sink_ready.wait(30)
    result = context.Queue()
    load = context.Process(
        target=_load,
        args=(
            protocol,
            ports[protocol],
            concurrency,
            warmup + seconds,
            sessions,
            load_ready,
            start,
            result,
        ),
    )
    load.start()
    with tempfile.TemporaryDirectory() as data_dir:
        config = Path(data_dir) / "sv-otel.yaml"
        config.write_text(
            _CONFIG
            % {
                **ports,
                "synchronous": synchronous,
                "queue": queue,
                "batch": batch,
                "max_sessions": max_sessions,
            }
        )
        profiler = ["-m", "cProfile", "-o", profile] if profile and workers == 1 else []
        gateway = start_serve(
            ["--config", str(config), "--data-dir", data_dir], workers=workers, python=profiler
        )
        load_ready.wait(60)
        assert load.pid is not None and sink.pid is not None
        start.set()
        time.sleep(warmup)
        pids = worker_pids(gateway.pid, workers)
        others = {"load": load.pid, "sink": sink.pid}
        cpu = {pid: cpu_seconds(pid) for pid in [*pids, *others.values()]}
        first, began = received.value, time.monotonic()
        time.sleep(seconds)
        records = received.value - first
        elapsed = time.monotonic() - began
        busy = {pid: (cpu_seconds(pid) - spent) / elapsed for pid, spent in cpu.items()}
        counts = result.get(timeout=120)
        load.join()
        rss = [peak_rss_mib(pid) for pid in pids]
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(120)
    sink.terminate()
    sink.join()
    return {
        "protocol": protocol,
        "workers": workers,
        "records_per_s": records / elapsed,
        "acknowledged_records_per_s": counts["ok"] * _RECORDS / (warmup + seconds),
        "refused_requests": counts["other"],
        "cpu_workers": [round(busy[pid], 2) for pid in pids],
        "cpu_load": round(busy[others["load"]], 2),
        "cpu_sink": round(busy[others["sink"]], 2),
        "peak_rss_mib": [round(r, 1) for r in rss],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=6.0, help="seconds to fill the queue")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sessions", type=int, default=64, help="sessions the records span")
    parser.add_argument("--protocols", default="grpc,http", help="grpc, http or both")
    parser.add_argument("--synchronous", choices=("full", "normal"), default="full")
    parser.add_argument("--queue-size", default="64MiB", help="service.queue.max_size")
    parser.add_argument("--batch", type=int, default=8192, help="the exporter's batch size")
    parser.add_argument("--max-sessions", type=int, default=1, help="sessions per post")
    parser.add_argument("--profile", help="write a cProfile of the 1-worker gateway here")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")

    # The machine is shared: take the better of a baseline before and one after the runs.
    before = reverse_translate_only()
    runs = {
        (protocol, workers): run(
            protocol,
            workers,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
            sessions=args.sessions,
            synchronous=args.synchronous,
            queue=args.queue_size,
            batch=args.batch,
            max_sessions=args.max_sessions,
            profile=f"{args.profile}.{protocol}" if args.profile else None,
        )
        for protocol in args.protocols.split(",")
        for workers in (1, 2)
    }
    baseline = max(before, reverse_translate_only())
    print(f"reverse translate-only (logs_to_events + dump_events): {baseline:,.0f} records/s")
    for figures in runs.values():
        print(
            f"{figures['protocol']:<5} {figures['workers']} worker(s): "
            f"{figures['records_per_s']:,.0f} records/s delivered, "
            f"{figures['acknowledged_records_per_s']:,.0f} acknowledged, "
            f"{figures['refused_requests']} refused; CPU (cores): workers "
            f"{figures['cpu_workers']}, load {figures['cpu_load']}, sink {figures['cpu_sink']}; "
            f"peak RSS MiB {figures['peak_rss_mib']}"
        )
    summary: dict[str, Any] = {
        "sessions": args.sessions,
        "concurrency": args.concurrency,
        "queue_synchronous": args.synchronous,
        "queue_size": args.queue_size,
        "exporter_batch_max_events": args.batch,
        "exporter_max_sessions": args.max_sessions,
        "translate_d_records_per_s": round(baseline),
    }
    for (protocol, workers), figures in runs.items():
        key = f"{protocol}_{workers}w"
        summary[f"{key}_records_per_s"] = round(figures["records_per_s"])
        summary[f"{key}_cpu_workers"] = figures["cpu_workers"]
        summary[f"{key}_cpu_load_and_sink"] = [figures["cpu_load"], figures["cpu_sink"]]
        summary[f"{key}_records_per_worker_cpu_second"] = round(
            figures["records_per_s"] / max(sum(figures["cpu_workers"]), 0.01)
        )
        if workers == 1:
            summary[f"ratio_{protocol}_1_worker_to_translate"] = round(
                figures["records_per_s"] / baseline, 4
            )
        else:
            one = runs[(protocol, 1)]["records_per_s"]
            # None when one worker delivered nothing in the window (the ratio is undefined).
            summary[f"ratio_{protocol}_2_workers_to_1"] = (
                round(figures["records_per_s"] / one, 4) if one else None
            )
    summary["targets"] = {"ratio_grpc_1_worker_to_translate": 0.6, "ratio_grpc_2_workers_to_1": 1.6}
    print(orjson.dumps(summary).decode())


if __name__ == "__main__":
    main()
