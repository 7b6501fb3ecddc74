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
* ``--workers N``                  processes sharing the ports (fixed ports only);
* ``--session-timeout SECONDS``    the sessions processor's inactivity timeout (default 1800);
* ``--session-secret SECRET``      serve ``POST /api/v1/sessions/start``, signing session tokens
  with SECRET (at least 16 bytes; default ``$SV_OTEL_SESSION_SECRET``, which keeps it out of
  the process list);
* ``--no-sessions``                take the sessions processor out (no lifecycle events).

The embedded configuration's ``logs`` pipeline has the ``sessions`` processor: browser sessions
get ``session.start`` / ``session.end`` log records and summaries under ``DIR/sessions/``
(``sv-otel sessions list --data-dir DIR``).
* ``--otlp-grpc-address HOST:PORT``, ``--otlp-http-address HOST:PORT``  receive OTLP there
  too (the ``otlp`` receiver): without an ``otlp`` receiver in the configuration, one is added
  with the ``logs/otlp`` and ``traces/otlp`` pipelines, which write sessionvision JSON lines to
  ``<data-dir>/export/sessionvision.jsonl``;
* ``--export-sessionvision URL``   post what the ``otlp`` receiver takes to this sessionvision
  ingest host instead (``--export-otlp`` applies to the other pipelines).
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import os
import urllib.parse
from pathlib import Path
from typing import Any

from sv_otel.errors import ConfigurationError
from sv_otel.server.config import default_config, load_config, read_config_file
from sv_otel.server.process import run_gateway
from sv_otel.server.registry import REGISTRY
from sv_otel.server.section import parse_endpoint
from sv_otel.sessions.settings import SESSION_SECRET_ENV
from sv_otel.sessions.token import MIN_SECRET_BYTES
from sv_otel.sessionvision.client import INGEST_PATH

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
    parser.add_argument("--otlp-grpc-address", metavar="HOST:PORT", help="OTLP/gRPC address")
    parser.add_argument("--otlp-http-address", metavar="HOST:PORT", help="OTLP/HTTP address")
    parser.add_argument(
        "--export-sessionvision", metavar="URL", help="post OTLP-received events to this host"
    )
    parser.add_argument(
        "--session-timeout", type=float, metavar="SECONDS", help="session inactivity timeout"
    )
    parser.add_argument(
        "--session-secret",
        metavar="SECRET",
        help=f"serve the session start endpoint with this token secret (${SESSION_SECRET_ENV})",
    )
    parser.add_argument("--no-sessions", action="store_true", help="no session lifecycle processor")
    parser.add_argument(
        "--log-level", default="info", choices=("debug", "info", "warning", "error")
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sv-otel serve`` with parsed arguments."""
    logging.basicConfig(
        level=args.log_level.upper(), format="sv-otel: %(levelname)s %(name)s: %(message)s"
    )
    if args.log_level != "debug":  # httpx logs every request it makes at info
        logging.getLogger("httpx").setLevel(logging.WARNING)
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
        otlp_fed = _otlp_pipelines(raw)
        for pipeline in (service.get("pipelines") or {}).values():
            if isinstance(pipeline, dict) and not any(pipeline is p for p in otlp_fed):
                pipeline["exporters"] = [exporter_id]
    _apply_otlp_flags(raw, args)
    _apply_session_flags(raw, args)
    return raw


def _apply_otlp_flags(raw: dict[str, Any], args: argparse.Namespace) -> None:
    """``--otlp-grpc-address``, ``--otlp-http-address`` and ``--export-sessionvision``."""
    addresses = {"grpc": args.otlp_grpc_address, "http": args.otlp_http_address}
    for protocol, address in addresses.items():
        if address:
            parse_endpoint(address, f"--otlp-{protocol}-address")
    url = args.export_sessionvision
    if url is not None:
        parts = urllib.parse.urlsplit(url)
        if (
            parts.scheme not in ("http", "https")
            or not parts.netloc
            or parts.path.endswith(INGEST_PATH)
        ):
            raise ConfigurationError(
                "--export-sessionvision: expected the ingest host's URL (the SDK's ingestHost, "
                f"without {INGEST_PATH}), such as https://app.sessionvision.com, got {url!r}"
            )
    exporter_id = "sessionvision/cli" if url else "sessionvision_file"
    receivers = _mapping(raw, "receivers")
    otlp_ids = [rid for rid in receivers if rid.partition("/")[0] == "otlp"]
    if any(addresses.values()) and not otlp_ids:
        receivers["otlp"] = {"protocols": {p: {"endpoint": a} for p, a in addresses.items() if a}}
        _mapping(raw, "exporters").setdefault(exporter_id, None)
        pipelines = _mapping(_mapping(raw, "service"), "pipelines")
        for signal in ("logs", "traces"):
            pipelines[f"{signal}/otlp"] = {"receivers": ["otlp"], "exporters": [exporter_id]}
    elif any(addresses.values()):
        for rid in otlp_ids:
            protocols = _mapping(_mapping(receivers, rid), "protocols")
            if not protocols:  # none listed means both: keep both
                protocols.update({"grpc": {}, "http": {}})
            for protocol, address in addresses.items():
                if address:
                    _mapping(protocols, protocol)["endpoint"] = address
    if url:
        fed = _otlp_pipelines(raw)
        if not fed:
            raise ConfigurationError(
                "--export-sessionvision: no pipeline takes data from an otlp receiver; "
                "add --otlp-grpc-address or --otlp-http-address"
            )
        _mapping(raw, "exporters")[exporter_id] = {"endpoint": url}
        for pipeline in fed:
            pipeline["exporters"] = [exporter_id]


def _otlp_pipelines(raw: dict[str, Any]) -> list[dict[str, Any]]:
    """The pipelines (as in ``raw``) that list an ``otlp`` receiver."""
    pipelines = ((raw.get("service") or {}).get("pipelines")) or {}
    return [
        pipeline
        for pipeline in pipelines.values()
        if isinstance(pipeline, dict)
        and any(
            isinstance(rid, str) and rid.partition("/")[0] == "otlp"
            for rid in pipeline.get("receivers") or ()
        )
    ]


def _apply_session_flags(raw: dict[str, Any], args: argparse.Namespace) -> None:
    """``--no-sessions``, ``--session-timeout`` and ``--session-secret`` (or its variable)."""
    processors = _mapping(raw, "processors")
    ids = [pid for pid in list(processors) if pid.partition("/")[0] == "sessions"]
    if args.no_sessions:
        for pid in ids:
            del processors[pid]
        for pipeline in (_mapping(raw, "service").get("pipelines") or {}).values():
            if isinstance(pipeline, dict) and isinstance(pipeline.get("processors"), list):
                pipeline["processors"] = [p for p in pipeline["processors"] if p not in ids]
        ids = []
    timeout = args.session_timeout
    if timeout is not None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ConfigurationError(
                f"--session-timeout: expected a number of seconds above 0, got {timeout:g}"
            )
        if not ids:
            raise ConfigurationError(
                "--session-timeout: the configuration has no sessions processor"
            )
        for pid in ids:
            _mapping(processors, pid)["inactivity_timeout"] = timeout
    secret, source = args.session_secret, "--session-secret"
    if secret is None:
        secret, source = os.environ.get(SESSION_SECRET_ENV) or None, SESSION_SECRET_ENV
    if secret is None:
        return
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        raise ConfigurationError(
            f"{source}: {size} bytes; the session start endpoint needs a secret of at least "
            f"{MIN_SECRET_BYTES} (32 random bytes are recommended)"
        )
    if not ids and source == "--session-secret":
        raise ConfigurationError("--session-secret: the configuration has no sessions processor")
    for pid in ids:
        _mapping(_mapping(processors, pid), "start")["secret"] = secret


def _mapping(parent: dict[str, Any], key: str) -> dict[str, Any]:
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    if not isinstance(value, dict):
        raise ConfigurationError(f"{key}: expected a mapping")
    return value
