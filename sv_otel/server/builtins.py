"""The component types that ship with sv_otel, registered into the process-wide registry.

==========  ==========================  ===================================================
kind        type                        component
==========  ==========================  ===================================================
receiver    ``sessionvision``           browser ingest (:mod:`sv_otel.ingest`)
processor   ``sessions``                session lifecycle (:mod:`sv_otel.sessions.component`)
receiver    ``otlp``                    OTLP/gRPC + HTTP in (:mod:`sv_otel.receiver.component`)
exporter    ``file``                    OTLP/JSON lines (:mod:`sv_otel.exporter.file`)
exporter    ``otlp``, ``otlp_grpc``     OTLP/gRPC (:mod:`sv_otel.exporter.otlp_grpc`)
exporter    ``otlphttp``, ``otlp_http`` OTLP/HTTP (:mod:`sv_otel.exporter.otlp_http`)
exporter    ``sessionvision``           an ingest host (:mod:`sv_otel.sessionvision.component`)
exporter    ``sessionvision_file``      sessionvision JSON lines (same module)
==========  ==========================  ===================================================

Other parts of sv_otel add theirs with one ``registry.register(...)`` line each in
:func:`register_builtins` (the ``otlp`` receiver, the ``sessionvision`` exporter, the
``sessions`` processor). :data:`~sv_otel.server.registry.REGISTRY` loads them on first use.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from sv_otel.exporter.file import FileExporter, FileSettings, parse_file_settings
from sv_otel.exporter.otlp_grpc import OTLPGrpcExporter
from sv_otel.exporter.otlp_http import OTLPHttpExporter
from sv_otel.exporter.otlp_settings import OTLPSettings, parse_otlp_settings
from sv_otel.ingest.receiver import create_ingest_receiver
from sv_otel.ingest.settings import parse_ingest_settings
from sv_otel.receiver.component import create_otlp_receiver
from sv_otel.receiver.config import parse_otlp_receiver_config
from sv_otel.server.registry import ComponentContext, Registry
from sv_otel.sessions.component import create_sessions_processor
from sv_otel.sessions.settings import parse_sessions_settings
from sv_otel.sessionvision import component as sessionvision

__all__ = ["register_builtins"]


def _file(settings: FileSettings, context: ComponentContext) -> FileExporter:
    signal = context.signal or "logs"
    if settings.path is None:
        suffix = f".{context.worker}" if context.workers > 1 else ""
        path = context.data_dir / "export" / f"{signal}{suffix}.jsonl"
    else:
        path = Path(settings.path)
        if context.workers > 1:
            path = path.with_name(f"{path.stem}.{context.worker}{path.suffix}")
    return FileExporter(context.name, signal, path, settings)


def _otlp_grpc(settings: OTLPSettings, context: ComponentContext) -> OTLPGrpcExporter:
    return OTLPGrpcExporter(context.name, context.signal or "logs", settings)


def _otlp_http(settings: OTLPSettings, context: ComponentContext) -> OTLPHttpExporter:
    return OTLPHttpExporter(context.name, context.signal or "logs", settings)


def register_builtins(registry: Registry) -> None:
    """Register every built-in component type into ``registry``."""
    registry.register(
        "receiver", "sessionvision", parse_ingest_settings, create_ingest_receiver, serves_http=True
    )
    registry.register(
        "receiver",
        "otlp",
        parse_otlp_receiver_config,
        create_otlp_receiver,
        serves_http=lambda config: config.serves_http,
    )
    registry.register("exporter", "file", parse_file_settings, _file)
    registry.register(
        "exporter",
        "sessionvision",
        sessionvision.parse_sessionvision_settings,
        sessionvision.create_sessionvision_exporter,
    )
    registry.register(
        "exporter",
        "sessionvision_file",
        sessionvision.parse_sessionvision_file_settings,
        sessionvision.create_sessionvision_file_exporter,
    )
    for name in ("otlp", "otlp_grpc"):
        registry.register("exporter", name, partial(parse_otlp_settings, http=False), _otlp_grpc)
    for name in ("otlphttp", "otlp_http"):
        registry.register("exporter", name, partial(parse_otlp_settings, http=True), _otlp_http)
    registry.register(
        "processor", "sessions", parse_sessions_settings, create_sessions_processor, exclusive=True
    )
