"""``sv-otel serve --otlp-grpc-address / --otlp-http-address / --export-sessionvision``."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sv_otel.cli.main import build_parser
from sv_otel.cli.serve import apply_flags
from sv_otel.errors import ConfigurationError
from sv_otel.server.config import GatewayConfig, default_config, load_config
from sv_otel.server.registry import REGISTRY


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["serve", *argv])


def load(raw: dict[str, Any], *argv: str) -> GatewayConfig:
    return load_config(apply_flags(raw, parse(*argv)), REGISTRY)


def pipelines(config: GatewayConfig) -> dict[str, tuple[tuple[str, ...], tuple[str, ...]]]:
    return {p.id: (p.receivers, p.exporters) for p in config.pipelines.values()}


def test_otlp_addresses_add_the_receiver_and_its_pipelines_into_a_file() -> None:
    config = load(default_config(), "--otlp-grpc-address", "0.0.0.0:4317")
    otlp = config.receivers["otlp"].settings
    assert otlp.http is None
    assert otlp.grpc is not None and otlp.grpc.grpc_address == "0.0.0.0:4317"
    assert pipelines(config) == {
        "logs": (("sessionvision",), ("file",)),
        "traces": (("sessionvision",), ("file",)),
        "logs/otlp": (("otlp",), ("sessionvision_file",)),
        "traces/otlp": (("otlp",), ("sessionvision_file",)),
    }


def test_export_sessionvision_takes_the_otlp_pipelines_and_export_otlp_the_others() -> None:
    config = load(
        default_config(),
        "--otlp-grpc-address",
        "127.0.0.1:4317",
        "--otlp-http-address",
        "127.0.0.1:4318",
        "--export-sessionvision",
        "https://ingest.example.com",
        "--export-otlp",
        "http://collector:4317",
        "--export-protocol",
        "grpc",
    )
    assert pipelines(config) == {
        "logs": (("sessionvision",), ("otlp/cli",)),
        "traces": (("sessionvision",), ("otlp/cli",)),
        "logs/otlp": (("otlp",), ("sessionvision/cli",)),
        "traces/otlp": (("otlp",), ("sessionvision/cli",)),
    }
    assert "sessionvision_file" not in config.exporters
    exporter = config.exporters["sessionvision/cli"].settings
    assert exporter.config.endpoint == "https://ingest.example.com"
    otlp = config.receivers["otlp"].settings
    assert otlp.grpc.grpc_address == "127.0.0.1:4317"
    assert otlp.http.http_address == "127.0.0.1:4318"


def test_flags_set_the_addresses_of_a_configured_otlp_receiver() -> None:
    raw = {
        "receivers": {"otlp": None, "otlp/tls": {"protocols": {"http": None}}},
        "exporters": {"sessionvision_file": None, "file": None},
        "service": {
            "pipelines": {
                "logs": {"receivers": ["otlp", "otlp/tls"], "exporters": ["sessionvision_file"]},
                "traces": {"receivers": ["otlp"], "exporters": ["file"]},
            }
        },
    }
    config = load(
        raw,
        "--otlp-http-address",
        "127.0.0.1:9318",
        "--export-sessionvision",
        "http://127.0.0.1:9000",
        "--export-otlp",
        "http://collector:4318",
    )
    plain, tls = config.receivers["otlp"].settings, config.receivers["otlp/tls"].settings
    assert plain.grpc.grpc_address == "127.0.0.1:4317"  # "no protocols" still means both
    assert plain.http.http_address == tls.http.http_address == "127.0.0.1:9318"
    assert tls.grpc is None
    assert pipelines(config) == {
        "logs": (("otlp", "otlp/tls"), ("sessionvision/cli",)),
        "traces": (("otlp",), ("sessionvision/cli",)),
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--otlp-grpc-address", "4317"],
            "--otlp-grpc-address: expected HOST:PORT, got '4317'",
        ),
        (
            ["--otlp-http-address", "localhost:http"],
            "--otlp-http-address: expected HOST:PORT, got 'localhost:http'",
        ),
        (
            ["--export-sessionvision", "https://ingest.example.com"],
            "--export-sessionvision: no pipeline takes data from an otlp receiver; add "
            "--otlp-grpc-address or --otlp-http-address",
        ),
        (
            ["--otlp-grpc-address", "127.0.0.1:4317", "--export-sessionvision", "ingest.example"],
            "--export-sessionvision: expected the ingest host's URL (the SDK's ingestHost, "
            "without /api/v1/ingest/events), such as https://app.sessionvision.com, got "
            "'ingest.example'",
        ),
        (
            [
                "--otlp-grpc-address",
                "127.0.0.1:4317",
                "--export-sessionvision",
                "https://ingest.example.com/api/v1/ingest/events",
            ],
            "--export-sessionvision: expected the ingest host's URL (the SDK's ingestHost, "
            "without /api/v1/ingest/events), such as https://app.sessionvision.com, got "
            "'https://ingest.example.com/api/v1/ingest/events'",
        ),
    ],
)
def test_bad_flags_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        apply_flags(default_config(), parse(*argv))
    assert raised.value.message == message


def _serve(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sv_otel.cli", "serve", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("protocol", ["grpc", "http"])
def test_an_otlp_port_in_use_ends_with_one_line_and_status_1(tmp_path: Path, protocol: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        result = _serve(
            "--ingest-address",
            "127.0.0.1:0",
            f"--otlp-{protocol}-address",
            address,
            "--data-dir",
            str(tmp_path),
        )
    assert result.returncode == 1, result.stderr
    reason = (
        "Address already in use" if protocol == "http" else "the address is in use or not available"
    )
    assert result.stderr.strip().splitlines()[-1] == (
        f"sv-otel serve: receivers.otlp: cannot listen on {address} for OTLP/"
        f"{'HTTP' if protocol == 'http' else 'gRPC'} ({reason})"
    )


def test_a_bad_otlp_block_in_the_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "serve.yaml"
    path.write_text(
        "receivers:\n  otlp:\n    protocols:\n      grpc:\n        max_recv_msg_size_mib: big\n"
        "exporters:\n  sessionvision_file:\n"
        "service:\n  pipelines:\n    logs: {receivers: [otlp], exporters: [sessionvision_file]}\n"
    )
    result = _serve("--config", str(path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "sv-otel serve: receivers.otlp.protocols.grpc.max_recv_msg_size_mib: expected an "
        "integer, got a string ('big')"
    )
