"""The configurations in collector_config/: valid for the real Collector, shaped as promised."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.collector._otelcol import (
    CONFIG_DIR,
    CONFIGS,
    collector_command,
    loopback_env,
    process_env,
)

_ENV_REFERENCE = re.compile(r"\$\{env:([A-Z0-9_]+)(?::-[^}]*)?\}")


def _validate(otelcol: Path, config: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        collector_command(otelcol, config, "validate"),
        env=process_env(env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _load(config: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CONFIG_DIR / config).read_text())
    return loaded


def _default_exporters(config: dict[str, Any], pipeline: dict[str, Any]) -> list[str]:
    """A pipeline's exporters, with an ``${env:X:-[a, b]}`` list replaced by its default."""
    exporters = pipeline["exporters"]
    if isinstance(exporters, str):
        match = re.fullmatch(r"\$\{env:[A-Z0-9_]+:-(\[.*\])\}", exporters)
        assert match, exporters
        exporters = yaml.safe_load(match.group(1))
    assert isinstance(exporters, list)
    assert set(exporters) <= set(config["exporters"])
    return exporters


@pytest.mark.parametrize("config", CONFIGS)
def test_config_passes_otelcol_validate_with_test_settings(
    otelcol: Path, config: str, tmp_path: Path
) -> None:
    env = loopback_env(tmp_path)
    env["SV_OTEL_LB_BACKENDS"] = "[127.0.0.1:14317, 127.0.0.1:24317]"

    result = _validate(otelcol, config, env)

    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("config", CONFIGS)
def test_config_passes_otelcol_validate_with_its_defaults(otelcol: Path, config: str) -> None:
    result = _validate(otelcol, config, {})

    assert result.returncode == 0, result.stderr


def test_validate_names_an_exporter_that_does_not_exist(otelcol: Path, tmp_path: Path) -> None:
    env = {**loopback_env(tmp_path), "SV_OTEL_GATEWAY_EXPORTERS": "[otlp_grpc/nowhere]"}

    result = _validate(otelcol, "gateway.yaml", env)

    assert result.returncode == 1
    assert re.search(
        r'service::pipelines::\w+: references exporter "otlp_grpc/nowhere" which is not '
        r"configured",
        result.stderr,
    ), result.stderr


def test_validate_names_a_malformed_memory_limit(otelcol: Path, tmp_path: Path) -> None:
    env = {**loopback_env(tmp_path), "SV_OTEL_COLLECTOR_MEMORY_LIMIT_MIB": "lots"}

    result = _validate(otelcol, "to-sessionvision.yaml", env)

    assert result.returncode == 1
    assert "'limit_mib' expected type 'uint32', got unconvertible type 'string'" in result.stderr


@pytest.mark.parametrize("config", CONFIGS)
def test_every_pipeline_limits_memory_first_and_batches(config: str) -> None:
    loaded = _load(config)
    pipelines = loaded["service"]["pipelines"]

    assert set(pipelines) >= {"logs", "traces"}
    for name, pipeline in pipelines.items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name


@pytest.mark.parametrize("config", CONFIGS)
def test_every_default_exporter_queues_on_file_storage(config: str) -> None:
    loaded = _load(config)
    extensions = loaded["service"]["extensions"]

    for pipeline in loaded["service"]["pipelines"].values():
        for exporter in _default_exporters(loaded, pipeline):
            queue = loaded["exporters"][exporter]["sending_queue"]
            assert queue["enabled"] is True, exporter
            assert queue["storage"].startswith("file_storage/"), exporter
            assert queue["storage"] in extensions, exporter
            assert queue["storage"] in loaded["extensions"], exporter


def test_loadbalancing_routes_by_session_id_with_a_static_resolver() -> None:
    exporter = _load("loadbalancing.yaml")["exporters"]["load_balancing"]

    assert exporter["routing_key"] == "attributes"
    assert exporter["routing_attributes"] == ["session.id"]
    assert list(exporter["resolver"]) == ["static"]
    # Per-instance calls are synchronous, so the persistent queue keeps a batch until delivered.
    assert exporter["protocol"]["otlp"]["sending_queue"] == {"enabled": False}


@pytest.mark.parametrize("config", CONFIGS)
def test_every_environment_variable_is_documented(config: str) -> None:
    text = (CONFIG_DIR / config).read_text()
    header = text.split("\nreceivers:", 1)[0]
    readme = (CONFIG_DIR / "README.md").read_text()

    settings = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    used = set(_ENV_REFERENCE.findall(settings))

    assert used, config
    for name in sorted(used):
        assert re.search(rf"^#\s+{name}\s", header, re.MULTILINE), (
            f"{name} not in {config}'s header"
        )
        assert name in readme, f"{name} not in collector_config/README.md"
