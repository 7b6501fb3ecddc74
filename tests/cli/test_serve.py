"""``sv-otel serve``: flags over the configuration, and the command itself."""

from __future__ import annotations

import argparse
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from sv_otel.cli.main import build_parser
from sv_otel.cli.serve import apply_flags
from sv_otel.errors import ConfigurationError
from sv_otel.server.config import default_config, load_config
from sv_otel.server.registry import REGISTRY
from tests.helpers import event_json
from tests.serving import ServeProcess
from tests.sinks import grpc_sink


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def test_flags_override_the_embedded_configuration() -> None:
    args = parse(
        "--ingest-address",
        "0.0.0.0:9000",
        "--token",
        "a",
        "--token",
        "b",
        "--export-otlp",
        "http://collector:4318",
        "--export-protocol",
        "http/json",
        "--data-dir",
        "/var/lib/sv",
        "--workers",
        "3",
    )
    config = load_config(apply_flags(default_config(), args), REGISTRY)
    ingest = config.receivers["sessionvision"].settings
    assert ingest.http_endpoint == ("0.0.0.0", 9000)
    assert ingest.tokens == ("a", "b")
    exporter = config.exporters["otlphttp/cli"].settings
    assert (exporter.endpoint, exporter.encoding) == ("http://collector:4318", "json")
    assert {p.exporters for p in config.pipelines.values()} == {("otlphttp/cli",)}
    assert (str(config.service.data_dir), config.service.workers) == ("/var/lib/sv", 3)


def test_export_protocol_defaults_to_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    raw = apply_flags(default_config(), parse("--export-otlp", "http://c:4317"))
    assert raw["exporters"]["otlp/cli"] == {"endpoint": "http://c:4317"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--ingest-address", "localhost"],
            "--ingest-address: expected HOST:PORT, got 'localhost'",
        ),
        (["--workers", "0"], "--workers: expected at least 1, got 0"),
    ],
)
def test_bad_flags_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        apply_flags(default_config(), parse(*argv))
    assert raised.value.message == message


def test_a_bad_configuration_file_ends_with_one_line_and_status_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("receivers:\n  sessionvision:\n    tokns: [a]\n")
    result = subprocess.run(
        [sys.executable, "-m", "sv_otel.cli", "serve", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("sv-otel serve: receivers.sessionvision.tokns: unknown key")
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.anyio
async def test_two_workers_share_the_port_and_export_over_grpc(tmp_path: Path) -> None:
    port = free_port()
    async with grpc_sink() as (sink, sink_port):
        server = await ServeProcess.start(
            None,
            tmp_path / "unused.yaml",
            "--ingest-address",
            f"127.0.0.1:{port}",
            "--export-otlp",
            f"http://127.0.0.1:{sink_port}",
            "--export-protocol",
            "grpc",
            "--data-dir",
            str(tmp_path / "data"),
            "--workers",
            "2",
            workers=2,
        )
        async with httpx.AsyncClient() as client:
            for index in range(40):
                async with httpx.AsyncClient() as fresh:  # new connections spread over workers
                    response = await fresh.post(
                        f"http://127.0.0.1:{port}/api/v1/ingest/events",
                        json=[event_json(event=f"e{index}")],
                    )
                assert response.status_code == 200
            await sink.wait_for_records(40)
            metrics = (await client.get(f"http://127.0.0.1:{port}/metrics")).text
        exit_status = await server.stop(signal.SIGTERM)
        assert exit_status == 0, server.log
    names = [name for _, name in sink.session_event_names()]
    assert sorted(n for n in names if not n.startswith("session.")) == sorted(
        f"e{i}" for i in range(40)
    )
    # One session (the sessions processor is on by default), whichever worker saw its events.
    assert (names.count("session.start"), names.count("session.end")) == (1, 1)
    assert 'sv_otel_receiver_accepted_events_total{receiver="sessionvision"} 40.0' in metrics
    shards = sorted(p.name for p in (tmp_path / "data" / "queue").glob("shard-*.db"))
    assert shards == ["shard-0.db", "shard-1.db"]


@pytest.mark.anyio
async def test_serve_with_no_options_but_an_address_writes_files(tmp_path: Path) -> None:
    port = free_port()
    server = await ServeProcess.start(
        None,
        tmp_path / "unused.yaml",
        "--ingest-address",
        f"127.0.0.1:{port}",
        "--data-dir",
        str(tmp_path / "data"),
    )
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"http://127.0.0.1:{port}/api/v1/ingest/events", json=[event_json()]
        )
    exit_status = await server.stop()
    assert exit_status == 0, server.log
    assert response.status_code == 200
    export = tmp_path / "data" / "export"
    assert b'"eventName":"purchase_completed"' in (export / "logs.jsonl").read_bytes()
    assert b'"name":"purchase_completed"' in (export / "traces.jsonl").read_bytes()
