"""``sv-otel translate``: sessionvision batches to OTLP/JSON lines, and back.

* ``--to otlp [--signal logs|traces]`` reads sessionvision batches (a JSON array, an
  ``{"events": [...]}`` envelope, or JSON lines; gzip is recognised) and writes OTLP/JSON lines,
  one ``Export*ServiceRequest`` per line (the OpenTelemetry Collector file exporter's format).
* ``--to sessionvision`` reads OTLP/JSON lines of logs or traces (detected per line) and writes
  one sessionvision event per line.
"""

from __future__ import annotations

import argparse
import sys
from typing import IO

import msgspec
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from sv_otel.batch import dump_events, parse_batch
from sv_otel.errors import InvalidBatchError, InvalidOTLPError
from sv_otel.event import Event
from sv_otel.limits import Limits
from sv_otel.otlp_json import decode_json, encode_json
from sv_otel.translate import encode_logs, encode_spans, logs_to_events, spans_to_events

__all__ = ["add_parser", "run"]

_EVENTS_PER_REQUEST = 1000
_DEFAULT_BODY_BYTES = Limits().max_body_bytes
_TOP_LEVEL = msgspec.json.Decoder(
    dict[str, msgspec.Raw] | list[msgspec.Raw] | str | int | float | bool | None
)


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``translate`` on the sub-command collection of the ``sv-otel`` parser."""
    parser = commands.add_parser(
        "translate",
        help="translate sessionvision batches to OTLP/JSON lines, or back",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("input", nargs="?", default="-", help="input file (default: stdin)")
    parser.add_argument("--to", required=True, choices=("otlp", "sessionvision"))
    parser.add_argument("--signal", choices=("logs", "traces"), default="logs")
    parser.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``sv-otel translate`` with parsed arguments."""
    data = _read(args.input)
    lines = _to_otlp(data, args.signal) if args.to == "otlp" else _to_sessionvision(data)
    if args.output == "-":
        _write(sys.stdout.buffer, lines)
    else:
        with open(args.output, "wb") as out:
            _write(out, lines)
    return 0


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as source:
        return source.read()


def _write(out: IO[bytes], lines: list[bytes]) -> None:
    for line in lines:
        out.write(line)
        out.write(b"\n")
    out.flush()


def _to_otlp(data: bytes, signal: str) -> list[bytes]:
    limits = Limits(max_body_bytes=max(len(data), _DEFAULT_BODY_BYTES), max_events=10**9)
    batch = parse_batch(data, limits=limits)
    if batch.rejected:
        first = batch.rejected[0].message
        more = len(batch.rejected) - 1
        raise InvalidBatchError(first + (f" (and {more} more rejected events)" if more else ""))
    encode = encode_logs if signal == "logs" else encode_spans
    message_type = ExportLogsServiceRequest if signal == "logs" else ExportTraceServiceRequest
    lines = []
    for start in range(0, len(batch.events), _EVENTS_PER_REQUEST):
        chunk = batch.events[start : start + _EVENTS_PER_REQUEST]
        lines.append(encode_json(message_type.FromString(encode(chunk))))
    return lines


def _to_sessionvision(data: bytes) -> list[bytes]:
    events: list[Event] = []
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            events.extend(_otlp_line_to_events(line))
        except InvalidOTLPError as error:
            raise InvalidOTLPError(f"line {number}: {error.message}") from None
    return [dump_events([event])[1:-1] for event in events]


def _otlp_line_to_events(line: bytes) -> list[Event]:
    try:
        document = _TOP_LEVEL.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        raise InvalidOTLPError(f"not JSON ({exc})") from None
    # Decode the text itself (not the parsed document) so that numbers are read exactly.
    if isinstance(document, dict):
        if "resourceSpans" in document or "resource_spans" in document:
            return spans_to_events(decode_json(line, ExportTraceServiceRequest).SerializeToString())
        if "resourceLogs" in document or "resource_logs" in document:
            return logs_to_events(decode_json(line, ExportLogsServiceRequest).SerializeToString())
    raise InvalidOTLPError(
        "expected an OTLP/JSON logs or traces request "
        "(an object with resourceLogs or resourceSpans)"
    )
