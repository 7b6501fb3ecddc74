"""The ``sv-otel serve`` configuration: YAML in the OpenTelemetry Collector's vocabulary.

::

    receivers:            # sources of events, by id (type[/name])
      sessionvision:      #   see sv_otel.ingest.settings
    processors:           # between receivers and the queue, by id
      sessions:           #   session lifecycle (sv_otel.sessions.settings)
    exporters:            # destinations, by id
      file:               #   OTLP/JSON lines (sv_otel.exporter.file)
      otlp:               #   OTLP/gRPC (alias otlp_grpc); otlphttp (alias otlp_http) for HTTP
        endpoint: http://collector:4317
    service:
      pipelines:          # <signal>[/name]: signal is logs or traces
        logs:   {receivers: [sessionvision], processors: [sessions], exporters: [file]}
        traces: {receivers: [sessionvision], exporters: [file]}
      data_dir: ./sv-otel-data      # --data-dir
      workers: 1                    # --workers
      queue: {max_size: 256MiB, synchronous: full, retry_after: 1s}
      telemetry: {address: 127.0.0.1:13133}   # /healthz /readyz /metrics on their own port
      shutdown_timeout: 10s         # how long a graceful stop keeps exporting
      batch: {max_events: 1000, timeout: 200ms}   # most events in one export, and how
                                    # long a smaller batch waits for more

Values may reference the environment (:mod:`sv_otel.server.expand`). Unknown keys, unknown
component types, undefined ids in a pipeline and bad values are errors naming the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sv_otel.errors import ConfigurationError
from sv_otel.server.expand import expand_env
from sv_otel.server.registry import ComponentKind, ComponentType, Registry
from sv_otel.server.section import ConfigSection, parse_endpoint

__all__ = [
    "SIGNALS",
    "Component",
    "GatewayConfig",
    "PipelineConfig",
    "ServiceSettings",
    "default_config",
    "load_config",
    "read_config_file",
]

SIGNALS = ("logs", "traces")
_SECTIONS: tuple[tuple[str, ComponentKind], ...] = (
    ("receivers", "receiver"),
    ("processors", "processor"),
    ("exporters", "exporter"),
)


@dataclass(frozen=True)
class Component:
    """One configured component: its id, registered type and parsed settings."""

    id: str
    type: ComponentType
    settings: Any


@dataclass(frozen=True)
class PipelineConfig:
    """``service.pipelines.<id>``: which receivers feed which processors and exporters."""

    id: str
    signal: str
    receivers: tuple[str, ...]
    processors: tuple[str, ...]
    exporters: tuple[str, ...]


@dataclass(frozen=True)
class ServiceSettings:
    """``service`` apart from the pipelines."""

    data_dir: Path = Path("sv-otel-data")
    workers: int = 1
    queue_max_bytes: int = 256 * 1024 * 1024
    queue_synchronous: str = "FULL"
    queue_retry_after: float = 1.0
    telemetry_address: tuple[str, int] | None = None
    shutdown_timeout: float = 10.0
    max_batch_events: int = 1000
    batch_timeout: float = 0.2


@dataclass(frozen=True)
class GatewayConfig:
    """A validated configuration; ``raw`` is the expanded document it was read from."""

    raw: Mapping[str, Any]
    receivers: Mapping[str, Component]
    processors: Mapping[str, Component]
    exporters: Mapping[str, Component]
    pipelines: Mapping[str, PipelineConfig]
    service: ServiceSettings


def default_config() -> dict[str, Any]:
    """The embedded configuration: browser ingest on 127.0.0.1:8080 into OTLP/JSON files.

    The ``logs`` pipeline has the ``sessions`` processor (``session.start`` / ``session.end``
    log records and summaries; ``sv-otel serve --no-sessions`` takes it out).
    """
    pipeline = {"receivers": ["sessionvision"], "exporters": ["file"]}
    return {
        "receivers": {"sessionvision": None},
        "processors": {"sessions": None},
        "exporters": {"file": None},
        "service": {
            "pipelines": {
                "logs": {**pipeline, "processors": ["sessions"]},
                "traces": dict(pipeline),
            }
        },
    }


def read_config_file(path: Path) -> dict[str, Any]:
    """The YAML document at ``path``, with environment references expanded.

    Raises:
        ConfigurationError: unreadable file, invalid YAML, not a mapping, unset variable.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(f"{path}: cannot read ({error.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: not UTF-8 text") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigurationError(f"{path}: invalid YAML ({error})") from None
    except RecursionError:  # PyYAML composes nested collections recursively
        raise ConfigurationError(f"{path}: invalid YAML (nested too deeply)") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path}: expected a mapping at the top level")
    expanded = expand_env(document)
    assert isinstance(expanded, dict)
    return expanded


def load_config(raw: Mapping[str, Any], registry: Registry) -> GatewayConfig:
    """Validate ``raw`` against ``registry``; parse every component's settings.

    Raises:
        ConfigurationError: the first problem, naming its key.
    """
    root = ConfigSection(raw, "")
    components: dict[str, dict[str, Component]] = {}
    for key, kind in _SECTIONS:
        section = root.section(key)
        found: dict[str, Component] = {}
        for component_id in section.raw:
            where = section.key_path(component_id)
            component_type = registry.get(kind, component_id, where)
            settings = component_type.parse(section.section(component_id))
            found[component_id] = Component(component_id, component_type, settings)
        section.finish()
        components[key] = found
    service = root.section("service")
    pipelines = _pipelines(service.section("pipelines"), components)
    _check_exclusive(components["processors"], pipelines)
    settings = _service(service)
    service.finish()
    root.finish()
    return GatewayConfig(
        raw=raw,
        receivers=components["receivers"],
        processors=components["processors"],
        exporters=components["exporters"],
        pipelines=pipelines,
        service=settings,
    )


def _pipelines(
    section: ConfigSection, components: Mapping[str, Mapping[str, Component]]
) -> dict[str, PipelineConfig]:
    if not section.raw:
        raise ConfigurationError(f"{section.path}: at least one pipeline is required (e.g. logs)")
    pipelines: dict[str, PipelineConfig] = {}
    for pipeline_id in section.raw:
        signal, _, _ = pipeline_id.partition("/")
        if signal not in SIGNALS:
            raise section.error(
                pipeline_id, f"unknown signal {signal!r} (pipelines are logs or traces)"
            )
        pipeline = section.section(pipeline_id)
        lists = {}
        for key in ("receivers", "processors", "exporters"):
            ids = pipeline.strings(key)
            for component_id in ids:
                if component_id not in components[key]:
                    raise pipeline.error(
                        key, f"{component_id!r} is not defined in the top-level {key} section"
                    )
            if len(set(ids)) != len(ids):
                raise pipeline.error(key, "lists a component twice")
            lists[key] = ids
        for key in ("receivers", "exporters"):
            if not lists[key]:
                raise pipeline.error(key, f"a pipeline needs at least one of its {key}")
        pipeline.finish()
        pipelines[pipeline_id] = PipelineConfig(
            pipeline_id, signal, lists["receivers"], lists["processors"], lists["exporters"]
        )
    section.finish()
    return pipelines


def _check_exclusive(
    processors: Mapping[str, Component], pipelines: Mapping[str, PipelineConfig]
) -> None:
    """Refuse a second use of a processor type that owns state in the data directory."""
    uses: dict[str, list[str]] = {}
    for pipeline in pipelines.values():
        for processor_id in pipeline.processors:
            component_type = processors[processor_id].type
            if component_type.exclusive:
                uses.setdefault(component_type.type, []).append(f"{pipeline.id} ({processor_id})")
    for type_name, found in uses.items():
        if len(found) > 1:
            raise ConfigurationError(
                f"service.pipelines: a {type_name} processor keeps its state in the data "
                f"directory, so one pipeline only may use one; used by {', '.join(found)}"
            )


def _service(service: ConfigSection) -> ServiceSettings:
    queue = service.section("queue")
    telemetry = service.section("telemetry")
    batch = service.section("batch")
    address = telemetry.string("address", None)
    settings = ServiceSettings(
        data_dir=Path(service.string("data_dir", "sv-otel-data")),
        workers=service.integer("workers", 1, minimum=1),
        queue_max_bytes=queue.size("max_size", 256 * 1024 * 1024),
        queue_synchronous=queue.choice("synchronous", "full", ("full", "normal")).upper(),
        queue_retry_after=queue.duration("retry_after", 1.0),
        telemetry_address=(
            parse_endpoint(address, telemetry.key_path("address")) if address else None
        ),
        shutdown_timeout=service.duration("shutdown_timeout", 10.0),
        max_batch_events=batch.integer("max_events", 1000, minimum=1),
        batch_timeout=batch.duration("timeout", 0.2),
    )
    for section in (queue, telemetry, batch):
        section.finish()
    return settings
