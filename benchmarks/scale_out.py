"""Scale-out throughput: the Collector's load-balancing tier in front of two sv_otel instances.

Run: ``.venv/bin/python -m benchmarks.scale_out [--seconds 8] [--concurrency 8] [--sessions 2000]``

Five processes besides this one, all on loopback: the OpenTelemetry Collector built by
``collector_config/build-collector.sh`` running ``collector_config/loadbalancing.yaml`` (routing
by ``session.id``, its persistent queue on disk), two ``sv-otel serve`` instances (one worker
each: the ``otlp`` receiver, the ``sessions`` processor unless ``--no-sessions``, an OTLP/gRPC
exporter), an OTLP/gRPC sink counting the log records both instances export, and a load generator
sending pre-encoded ``ExportLogsServiceRequest``\\ s of 512 records (sessionvision events as
``sv-otel serve`` forwards them, over ``--sessions`` sessions) to the Collector, ``--concurrency``
in flight.

First, in this process, it measures the ``sessions`` processor alone on the same kind of events
(events per CPU-second for sessions it starts and for sessions already open, and the memory an
open session takes), since its share is what sets an instance's session capacity.

The load outpaces the instances (the Collector acknowledges into its disk queue), so what the
sink receives in the steady-state window is what two instances sustain next to everything else
on the machine. Absolute rates on a shared machine say little; the figures meant for sizing are
per CPU-second: records an instance delivers per second of its own CPU, and records the Collector
routes per second of its CPU (its ``otelcol_exporter_sent_log_records``). The last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
from multiprocessing.sharedctypes import Synchronized
from pathlib import Path
from typing import Any

import orjson

from benchmarks.corpus import make_bodies, make_events
from benchmarks.processes import cpu_seconds, free_port, peak_rss_mib, start_serve
from benchmarks.receiver import make_requests

_REPO = Path(__file__).resolve().parents[1]
_RECORDS = 512
_INSTANCE = """
receivers:
  otlp: {protocols: {grpc: {endpoint: "127.0.0.1:%(grpc)d"}}}
processors:
  sessions: null
exporters:
  otlp: {endpoint: "http://127.0.0.1:%(sink)d"}
service:
  pipelines:
    logs: {receivers: [otlp], processors: %(processors)s, exporters: [otlp]}
  telemetry: {address: "127.0.0.1:%(telemetry)d"}
"""


def sessions_only(sessions: int, batch: int = 4096, opened: int = 50_000) -> dict[str, float]:
    """The ``sessions`` processor alone, in this process: per CPU-second and per open session.

    ``opened`` sessions are started one event each (what a new session costs, and the memory an
    open one takes), then 100 000 events over ``sessions`` sessions go through in batches of
    ``batch``, about what each of two instances gets from the Collector's batches of 8192.
    """
    from sv_otel.batch import parse_batch
    from sv_otel.sessions import SessionLifecycleProcessor

    def corpus(count: int, spread: int, seed: int) -> list[Any]:
        bodies = make_bodies(make_events(count, sessions=spread, seed=seed), 1000)
        return [event for body in bodies for event in parse_batch(body).events]

    firsts: dict[str, Any] = {}
    for event in corpus(2 * opened, opened, 5):
        firsts.setdefault(event.session_id, event)
    starts = list(firsts.values())
    events = corpus(100_000, sessions, 6)
    with tempfile.TemporaryDirectory() as state:
        processor = SessionLifecycleProcessor(state)
        rss_before = _rss_mib()
        began = time.process_time()
        for i in range(0, len(starts), batch):
            processor.process(starts[i : i + batch], 0)
        new_per_s = len(starts) / (time.process_time() - began)
        per_session = (_rss_mib() - rss_before) * 1024 * 1024 / len(starts)
        began = time.process_time()
        for i in range(0, len(events), batch):
            processor.process(events[i : i + batch], 0)
        events_per_s = len(events) / (time.process_time() - began)
        processor.close()
    return {
        "new_sessions_per_cpu_second": round(new_per_s),
        "events_per_cpu_second": round(events_per_s),
        "memory_bytes_per_open_session": round(per_session),
    }


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _sink(port: int, received: Synchronized[int], ready: Any) -> None:
    """An OTLP gRPC server counting log records (its own process)."""
    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2, logs_service_pb2_grpc

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):
        async def Export(self, request: Any, context: Any) -> Any:
            count = sum(len(s.log_records) for r in request.resource_logs for s in r.scope_logs)
            with received.get_lock():
                received.value += count
            return logs_service_pb2.ExportLogsServiceResponse()

    async def serve() -> None:
        server = grpc.aio.server()
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
        server.add_insecure_port(f"127.0.0.1:{port}")
        await server.start()
        ready.set()
        await server.wait_for_termination()

    asyncio.run(serve())


def _load(
    port: int, concurrency: int, seconds: float, sessions: int, ready: Any, start: Any
) -> None:
    """Send pre-encoded requests to the Collector for ``seconds`` (its own process)."""
    import grpc

    requests = make_requests(sessions)

    async def caller(offset: int, deadline: float) -> None:
        options = [("grpc.use_local_subchannel_pool", 1)]
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=options) as channel:
            export: grpc.aio.UnaryUnaryMultiCallable[bytes, bytes] = channel.unary_unary(
                "/opentelemetry.proto.collector.logs.v1.LogsService/Export"
            )
            index = offset
            while time.monotonic() < deadline:
                try:
                    await export(requests[index % len(requests)], timeout=30)
                    index += concurrency
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(1.0)  # the memory limiter or a full queue: back off

    async def main() -> None:
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, start.wait)
        deadline = time.monotonic() + seconds
        await asyncio.gather(*(caller(i, deadline) for i in range(concurrency)))

    asyncio.run(main())


def _collector_binary() -> Path:
    built = subprocess.run(
        ["bash", str(_REPO / "collector_config" / "build-collector.sh")],
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(built.stdout.strip().splitlines()[-1])


def _collector_counter(port: int, name: str) -> float:
    """The sum of counter ``name`` on the Collector's own /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.split("{", 1)[0].split(" ", 1)[0] in (name, name + "_total")
    )


def _disk_bytes(directory: Path) -> int:
    """Bytes the files under ``directory`` take on disk."""
    return sum(path.stat().st_blocks * 512 for path in directory.rglob("*") if path.is_file())


def _start_instance(
    directory: Path, ports: dict[str, int], sessions: bool
) -> subprocess.Popen[str]:
    config = directory / "sv-otel.yaml"
    directory.mkdir()
    config.write_text(_INSTANCE % {**ports, "processors": "[sessions]" if sessions else "[]"})
    return start_serve(["--config", str(config), "--data-dir", str(directory)])


def run(
    *, sessions_processor: bool, concurrency: int, seconds: float, warmup: float, sessions: int
) -> dict[str, Any]:
    """One measurement: sink, instances, Collector and load started, the steady window measured."""
    context = multiprocessing.get_context("spawn")
    received: Synchronized[int] = context.Value("q", 0)
    sink_ready, load_ready, start = context.Event(), context.Event(), context.Event()
    sink_port, lb_grpc, lb_http, lb_metrics = (free_port() for _ in range(4))
    sink = context.Process(target=_sink, args=(sink_port, received, sink_ready))
    sink.start()
    sink_ready.wait(30)
    load = context.Process(
        target=_load,
        args=(lb_grpc, concurrency, warmup + seconds, sessions, load_ready, start),
    )
    load.start()
    with tempfile.TemporaryDirectory() as work:
        instance_ports = [
            {"grpc": free_port(), "sink": sink_port, "telemetry": free_port()} for _ in range(2)
        ]
        instances = [
            _start_instance(Path(work) / f"sv-otel-{i}", ports, sessions_processor)
            for i, ports in enumerate(instance_ports)
        ]
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": os.environ.get("HOME", ""),
            "SV_OTEL_COLLECTOR_GRPC_ENDPOINT": f"127.0.0.1:{lb_grpc}",
            "SV_OTEL_COLLECTOR_HTTP_ENDPOINT": f"127.0.0.1:{lb_http}",
            "SV_OTEL_COLLECTOR_METRICS_HOST": "127.0.0.1",
            "SV_OTEL_COLLECTOR_METRICS_PORT": str(lb_metrics),
            "SV_OTEL_COLLECTOR_STORAGE_DIR": str(Path(work) / "collector"),
            "SV_OTEL_LB_BACKENDS": "["
            + ", ".join(f"127.0.0.1:{p['grpc']}" for p in instance_ports)
            + "]",
            "SV_OTEL_LB_INSECURE": "true",
        }
        log = (Path(work) / "collector.log").open("wb")
        collector = subprocess.Popen(
            [str(_collector_binary()), f"--config={_REPO / 'collector_config/loadbalancing.yaml'}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        while b"Everything is ready" not in (Path(work) / "collector.log").read_bytes():
            assert collector.poll() is None, (Path(work) / "collector.log").read_text()
            time.sleep(0.05)
        load_ready.wait(60)
        start.set()
        time.sleep(warmup)
        assert load.pid is not None and sink.pid is not None
        pids = {
            "collector": collector.pid,
            "instance_0": instances[0].pid,
            "instance_1": instances[1].pid,
            "load": load.pid,
            "sink": sink.pid,
        }
        cpu = {name: cpu_seconds(pid) for name, pid in pids.items()}
        sent = "otelcol_exporter_sent_log_records"
        first, routed, began = (
            received.value,
            _collector_counter(lb_metrics, sent),
            time.monotonic(),
        )
        time.sleep(seconds)
        records = received.value - first
        routed = _collector_counter(lb_metrics, sent) - routed
        elapsed = time.monotonic() - began
        busy = {name: (cpu_seconds(pid) - cpu[name]) / elapsed for name, pid in pids.items()}
        # What waits in the Collector's persistent queue, and the disk it takes.
        waiting = _collector_counter(
            lb_metrics, "otelcol_receiver_accepted_log_records"
        ) - _collector_counter(lb_metrics, sent)
        disk = _disk_bytes(Path(work) / "collector")
        rss = [peak_rss_mib(process.pid) for process in instances]
        load.join()
        collector.send_signal(signal.SIGTERM)
        collector.wait(60)
        log.close()
        for process in instances:
            process.send_signal(signal.SIGTERM)
            process.wait(60)
    sink.terminate()
    sink.join()
    instance_cpu = busy["instance_0"] + busy["instance_1"]
    return {
        "sessions_processor": sessions_processor,
        "records_per_s": round(records / elapsed),
        "collector_routed_per_s": round(routed / elapsed),
        "records_per_instance_cpu_second": round(records / elapsed / max(instance_cpu, 0.01)),
        "records_per_collector_cpu_second": round(routed / elapsed / max(busy["collector"], 0.01)),
        "collector_queued_records": round(waiting),
        "collector_disk_bytes_per_queued_record": round(disk / max(waiting, 1)),
        "cpu": {name: round(value, 2) for name, value in busy.items()},
        "peak_rss_mib_per_instance": [round(r, 1) for r in rss],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sessions", type=int, default=2000, help="sessions the records span")
    parser.add_argument(
        "--no-sessions", action="store_true", help="measure without the sessions processor only"
    )
    args = parser.parse_args()
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    alone = sessions_only(args.sessions)
    print(
        f"the sessions processor alone: {alone['new_sessions_per_cpu_second']:,} new sessions and "
        f"{alone['events_per_cpu_second']:,} events over {args.sessions:,} sessions per "
        f"CPU-second, {alone['memory_bytes_per_open_session']:,} bytes of memory per open session"
    )
    runs = [
        run(
            sessions_processor=with_sessions,
            concurrency=args.concurrency,
            seconds=args.seconds,
            warmup=args.warmup,
            sessions=args.sessions,
        )
        for with_sessions in ((False,) if args.no_sessions else (True, False))
    ]
    for figures in runs:
        label = "with" if figures["sessions_processor"] else "without"
        print(
            f"{label} the sessions processor: {figures['records_per_s']:,} records/s delivered by "
            f"2 instances ({figures['records_per_instance_cpu_second']:,} per instance "
            f"CPU-second), {figures['collector_routed_per_s']:,} routed by the Collector "
            f"({figures['records_per_collector_cpu_second']:,} per Collector CPU-second), "
            f"{figures['collector_queued_records']:,} records in its disk queue "
            f"({figures['collector_disk_bytes_per_queued_record']} bytes each); "
            f"CPU (cores) {figures['cpu']}; peak RSS MiB {figures['peak_rss_mib_per_instance']}"
        )
    print(orjson.dumps({"sessions_processor_alone": alone, "runs": runs}).decode())


if __name__ == "__main__":
    main()
