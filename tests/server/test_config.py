"""The YAML configuration: Collector vocabulary, strict keys, errors that name the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.ingest.settings import IngestSettings
from sv_otel.server.config import default_config, load_config, read_config_file
from sv_otel.server.registry import REGISTRY

FULL = """
receivers:
  sessionvision:
    protocols:
      http:
        endpoint: 0.0.0.0:${env:SV_PORT}
        cors: {allowed_origins: ["https://shop.example"], max_age: 60}
      grpc: {endpoint: "127.0.0.1:4320"}
    tokens: ["${env:SV_TOKEN}", "literal$$dollar"]
    body_timeout: 500ms
    max_body_bytes: 2MiB
exporters:
  otlp/tempo:
    endpoint: http://tempo:4317
    headers: {x-scope-orgid: "${env:TENANT:-acme}"}
    retry_on_failure: {initial_interval: 1s, max_elapsed_time: 10m}
  file:
service:
  data_dir: /tmp/sv
  queue: {max_size: 64MiB, synchronous: normal}
  pipelines:
    logs: {receivers: [sessionvision], exporters: [otlp/tempo, file]}
    traces/2: {receivers: [sessionvision], exporters: [file]}
"""


def test_a_full_file_is_read_with_environment_expansion(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SV_PORT", "9090")
    monkeypatch.setenv("SV_TOKEN", "sv_pub_1")
    monkeypatch.delenv("TENANT", raising=False)
    path = tmp_path / "sv.yaml"
    path.write_text(FULL)
    config = load_config(read_config_file(path), REGISTRY)
    ingest = config.receivers["sessionvision"].settings
    assert isinstance(ingest, IngestSettings)
    assert ingest.http_endpoint == ("0.0.0.0", 9090)
    assert ingest.grpc_endpoint == ("127.0.0.1", 4320)
    assert ingest.tokens == ("sv_pub_1", "literal$dollar")
    assert ingest.body_timeout == 0.5
    assert ingest.limits.max_body_bytes == 2 * 1024 * 1024
    assert ingest.cors.allows("https://shop.example") and not ingest.cors.allows("https://x.y")
    tempo = config.exporters["otlp/tempo"].settings
    assert tempo.headers == {"x-scope-orgid": "acme"}
    assert tempo.retry.max_elapsed_time == 600.0
    assert config.pipelines["traces/2"].signal == "traces"
    assert config.pipelines["logs"].exporters == ("otlp/tempo", "file")
    assert config.service.queue_max_bytes == 64 * 1024 * 1024
    assert config.service.queue_synchronous == "NORMAL"


def test_the_default_configuration_is_valid() -> None:
    config = load_config(default_config(), REGISTRY)
    assert set(config.pipelines) == {"logs", "traces"}
    assert config.receivers["sessionvision"].settings.http_endpoint == ("127.0.0.1", 8080)


def with_change(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    raw = default_config()
    node = raw
    for key in path[:-1]:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        node = child
    node[path[-1]] = value
    return raw


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("extensions",),
            {},
            "extensions: unknown key (expected one of: exporters, processors, receivers, service)",
        ),
        (
            ("receivers", "sessionvision"),
            {"tokns": []},
            "receivers.sessionvision.tokns: unknown "
            "key (expected one of: body_timeout, max_body_bytes, max_concurrent_requests, "
            "max_events, max_request_bytes, protocols, retry_after, token_header, tokens)",
        ),
        (
            ("receivers", "sessionvision"),
            {"body_timeout": "soon"},
            "receivers.sessionvision.body_timeout: expected a duration such as 10s or 500ms, got a "
            "string ('soon')",
        ),
        (
            ("receivers", "sessionvision"),
            {"protocols": {"http": {"endpoint": "nope"}}},
            "receivers.sessionvision.protocols.http.endpoint: expected HOST:PORT, got 'nope'",
        ),
        (
            ("receivers", "kafka"),
            None,
            "receivers.kafka: unknown receiver type 'kafka' (known: otlp, sessionvision)",
        ),
        (
            ("exporters", "otlp"),
            {"compression": "zstd"},
            "exporters.otlp.compression: expected gzip or none, got 'zstd'",
        ),
        (
            ("service", "pipelines", "metrics"),
            {"receivers": ["sessionvision"]},
            "service.pipelines.metrics: unknown signal 'metrics' (pipelines are logs or traces)",
        ),
        (
            ("service", "pipelines", "logs"),
            {"receivers": ["sessionvision"], "exporters": ["otlp"]},
            "service.pipelines.logs.exporters: 'otlp' is not defined in the top-level exporters "
            "section",
        ),
        (
            ("service", "pipelines", "logs"),
            {"receivers": ["sessionvision"]},
            "service.pipelines.logs.exporters: a pipeline needs at least one of its exporters",
        ),
        (("service", "workers"), 0, "service.workers: expected an integer of at least 1, got 0"),
        (
            ("service", "queue"),
            {"max_size": "lots"},
            "service.queue.max_size: expected a size such as 64MiB or a number of bytes, got a "
            "string ('lots')",
        ),
    ],
)
def test_bad_configurations_name_the_key(path: tuple[str, ...], value: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        load_config(with_change(path, value), REGISTRY)
    assert raised.value.message == message


def test_unset_variables_and_bad_yaml_are_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SV_MISSING", raising=False)
    path = tmp_path / "sv.yaml"
    path.write_text("receivers:\n  sessionvision:\n    tokens: ['${env:SV_MISSING}']\n")
    with pytest.raises(ConfigurationError) as raised:
        read_config_file(path)
    assert raised.value.message == (
        "receivers.sessionvision.tokens[0]: environment variable SV_MISSING is not set "
        "(write ${env:SV_MISSING:-default} for a default)"
    )
    path.write_text("receivers: [unclosed\n")
    with pytest.raises(ConfigurationError, match="invalid YAML"):
        read_config_file(path)
    path.write_text("receivers: " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigurationError, match=r"invalid YAML \(nested too deeply\)"):
        read_config_file(path)
    with pytest.raises(ConfigurationError, match="cannot read"):
        read_config_file(tmp_path / "absent.yaml")


def test_the_shipped_example_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SV_ALLOWED_ORIGIN", "SV_TOKEN", "OTLP_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    example = Path(__file__).parents[2] / "examples" / "gateway.yaml"
    config = load_config(read_config_file(example), REGISTRY)
    assert config.receivers["sessionvision"].settings.tokens == ("sv_pub_example",)
    assert config.pipelines["logs"].exporters == ("otlp", "file")
