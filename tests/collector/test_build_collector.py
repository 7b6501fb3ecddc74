"""collector_config/build-collector.sh and collector_config/builder.yaml: the Collector we build."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.collector._otelcol import BUILD_SCRIPT, CONFIG_DIR

MANIFEST = CONFIG_DIR / "builder.yaml"

# The components each kind of the build may contain, as the Collector names them: exactly the
# ones sv_otel's configurations use, nothing more.
EXPECTED_COMPONENTS = {
    "receivers": {"otlp"},
    "processors": {"batch", "memory_limiter", "transform"},
    "exporters": {"debug", "file", "load_balancing", "otlp_grpc", "otlp_http"},
    "extensions": {"file_storage"},
}


def _manifest() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return loaded


def _run_script(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(BUILD_SCRIPT)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
        check=False,
    )


def test_manifest_pins_one_release_for_core_and_contrib() -> None:
    manifest = _manifest()
    release = manifest["dist"]["version"]
    modules = [
        entry["gomod"]
        for kind in ("receivers", "processors", "exporters", "extensions")
        for entry in manifest[kind]
    ]
    modules.append(manifest["telemetry"]["gomod"])
    versions = {module.split()[1] for module in modules}
    assert versions == {f"v{release}"}
    assert any(
        m.startswith("github.com/open-telemetry/opentelemetry-collector-contrib/") for m in modules
    )
    assert any(m.startswith("go.opentelemetry.io/collector/") for m in modules)


def test_second_run_reuses_the_cached_binary(otelcol: Path) -> None:
    result = _run_script()

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(otelcol)]
    assert result.stderr == ""  # nothing was installed or built
    assert os.access(otelcol, os.X_OK)
    default_cache = CONFIG_DIR.parent / ".cache" / "otelcol"
    assert otelcol.parent.parent == Path(os.environ.get("SV_OTEL_OTELCOL_CACHE", default_cache))


def test_cached_binary_is_found_without_go(otelcol: Path, tmp_path: Path) -> None:
    result = _run_script(GO=str(tmp_path / "go"))  # a go command that does not exist

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [str(otelcol)]


def test_missing_go_is_named_when_a_build_is_needed(tmp_path: Path) -> None:
    go = tmp_path / "bin" / "go"  # does not exist
    cache = tmp_path / "cache"

    result = _run_script(GO=str(go), SV_OTEL_OTELCOL_CACHE=str(cache))

    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"build-collector: Go is not installed ('{go}' is not on PATH); it is needed to build "
        "the OpenTelemetry Collector (https://go.dev/doc/install)\n"
    )
    assert not cache.exists()


def test_binary_is_the_pinned_release(otelcol: Path) -> None:
    result = subprocess.run(
        [str(otelcol), "--version"], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.strip() == f"otelcol-sv version {_manifest()['dist']['version']}"


def test_binary_has_exactly_the_components_we_use(otelcol: Path) -> None:
    result = subprocess.run(
        [str(otelcol), "components"], capture_output=True, text=True, timeout=60, check=True
    )
    listed = yaml.safe_load(result.stdout)

    found = {kind: {c["name"] for c in listed.get(kind) or []} for kind in EXPECTED_COMPONENTS}
    assert found == EXPECTED_COMPONENTS
    assert not listed.get("connectors")
    modules = {c["module"] for kind in EXPECTED_COMPONENTS for c in listed[kind]}
    assert all(re.fullmatch(r"\S+ v0\.161\.0", module) for module in modules), modules


def test_build_output_is_ignored_by_git() -> None:
    git = shutil.which("git")
    assert git is not None
    result = subprocess.run(
        [git, "check-ignore", "-q", ".cache/otelcol/any-version/otelcol-sv"],
        cwd=CONFIG_DIR.parent,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0
