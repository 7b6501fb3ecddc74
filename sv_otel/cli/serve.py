"""``sv-otel serve``: the gateway. Browsers post batches; every event reaches OTLP or a file.

With no options it listens on 127.0.0.1:8080 for ``POST /api/v1/ingest/events`` and writes
OTLP/JSON lines to ``./sv-otel-data/export/{logs,traces}.jsonl``. The flags cover the common
cases; ``--config`` takes a YAML file in the OpenTelemetry Collector's vocabulary, and flags
given with it override it:

* ``--ingest-address HOST:PORT``  where the sessionvision receiver's HTTP endpoint listens;
* ``--token TOKEN`` (repeatable)   project tokens to accept (none: open);
* ``--export-otlp URL``            export every pipeline to this OTLP endpoint instead, with
  ``--export-protocol grpc|http/protobuf|http/json`` (default ``$OTEL_EXPORTER_OTLP_PROTOCOL``,
  else http/protobuf);
* ``--data-dir DIR``               queue, files and dead letters (default ./sv-otel-data);
* ``--workers N``                  processes sharing the ports (fixed ports only).
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
from pathlib import Path
from typing import Any

from sv_otel.errors import ConfigurationError
from sv_otel.server.config import default_config, load_config, read_config_file
from sv_otel.server.process import run_gateway
from sv_otel.server.registry import REGISTRY
from sv_otel.server.section import parse_endpoint

__all__ = ["add_parser", "apply_flags", "run"]

_PROTOCOLS = ("grpc", "http/protobuf", "http/json")


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``serve`` on the sub-command collection of the ``sv-otel`` parser."""
    parser = commands.add_parser(
        "serve",
        help="run the gateway: sessionvision ingest endpoint -> OTLP backend or files",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", type=Path, help="YAML configuration file")
    parser.add_argument("--data-dir", help="data directory (default: ./sv-otel-data)")
    parser.add_argument("--ingest-address", metavar="HOST:PORT", help="HTTP ingest address")
    parser.add_argument(
        "--token", action="append", default=[], help="accepted project token (repeatable)"
    )
    parser.add_argument("--export-otlp", metavar="URL", help="export to this OTLP endpoint")
    parser.add_argument("--export-protocol", choices=_PROTOCOLS, help="OTLP protocol")
    parser.add_argument("--workers", type=int, help="worker processes (default 1)")
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sv-otel serve`` with parsed arguments."""
    logging.basicConfig(
        level=args.log_level.upper(), format="sv-otel: %(levelname)s %(name)s: %(message)s"
    )
    raw = read_config_file(args.config) if args.config else default_config()
    config = load_config(apply_flags(raw, args), REGISTRY)
    return run_gateway(config, announce=lambda line: print(line, flush=True))


def apply_flags(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """A copy of the configuration document ``raw`` with the command-line flags applied.

    Raises:
        ConfigurationError: a flag that cannot apply (e.g. no sessionvision receiver).
    """
    raw = copy.deepcopy(raw)
    service = _mapping(raw, "service")
    if args.data_dir:
        service["data_dir"] = args.data_dir
    if args.workers is not None:
        if args.workers < 1:
            raise ConfigurationError(f"--workers: expected at least 1, got {args.workers}")
        service["workers"] = args.workers
    if args.ingest_address or args.token:
        receivers = [
            _mapping(_mapping(raw, "receivers"), rid)
            for rid in list(raw.get("receivers") or {})
            if rid.partition("/")[0] == "sessionvision"
        ]
        if not receivers:
            raise ConfigurationError(
                "--ingest-address/--token: the configuration has no sessionvision receiver"
            )
        for receiver in receivers:
            if args.ingest_address:
                parse_endpoint(args.ingest_address, "--ingest-address")
                http = _mapping(_mapping(receiver, "protocols"), "http")
                http["endpoint"] = args.ingest_address
            if args.token:
                receiver["tokens"] = [*(receiver.get("tokens") or []), *args.token]
    if args.export_otlp:
        protocol = args.export_protocol or os.environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        if protocol not in _PROTOCOLS:
            raise ConfigurationError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL: expected one of {', '.join(_PROTOCOLS)}"
            )
        exporter: dict[str, Any] = {"endpoint": args.export_otlp}
        if protocol == "grpc":
            exporter_id = "otlp/cli"
        else:
            exporter_id = "otlphttp/cli"
            exporter["encoding"] = "json" if protocol == "http/json" else "proto"
        _mapping(raw, "exporters")[exporter_id] = exporter
        for pipeline in (service.get("pipelines") or {}).values():
            if isinstance(pipeline, dict):
                pipeline["exporters"] = [exporter_id]
    return raw


def _mapping(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"{key}: expected a mapping")
    return value
