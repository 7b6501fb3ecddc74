"""Golden pairs: ``tests/testdata/<case>/events.json`` and its OTLP/JSON logs and traces.

Each case pins the exact OTLP that sv_otel writes for a batch (the mapping table, the escape rule,
value types, session trace ids, the span model) and proves the way back, through the library and
through ``sv-otel translate`` run as a user runs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

import sv_otel
from sv_otel.otlp_json import decode_json, encode_json_dict

TESTDATA = Path(__file__).parent / "testdata"
CASES = sorted(path.name for path in TESTDATA.iterdir() if (path / "events.json").exists())
OBSERVED = 1709856100000000000
"""The ``observed_time_unix_nano`` the golden log records were written with."""


def events_of(case: str) -> list[sv_otel.Event]:
    batch = sv_otel.parse_batch((TESTDATA / case / "events.json").read_bytes())
    assert batch.rejected == []
    return batch.events


def golden(case: str, name: str) -> Any:
    return msgspec.json.decode((TESTDATA / case / name).read_bytes())


def without_observed_time(document: Any) -> Any:
    for resource in document["resourceLogs"]:
        for scope in resource["scopeLogs"]:
            for record in scope["logRecords"]:
                record.pop("observedTimeUnixNano")
    return document


def test_there_are_golden_cases() -> None:
    assert {"basic", "types", "escaping", "sessions"} <= set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_events_become_the_golden_logs(case: str) -> None:
    request = sv_otel.events_to_logs(events_of(case), observed_time_unix_nano=OBSERVED)
    assert encode_json_dict(request) == golden(case, "logs.otlp.json")


@pytest.mark.parametrize("case", CASES)
def test_events_become_the_golden_traces(case: str) -> None:
    assert encode_json_dict(sv_otel.events_to_spans(events_of(case))) == golden(
        case, "traces.otlp.json"
    )


@pytest.mark.parametrize("case", CASES)
def test_golden_logs_read_back_as_the_events(case: str) -> None:
    data = (TESTDATA / case / "logs.otlp.json").read_bytes()
    assert sv_otel.logs_to_events(decode_json(data, ExportLogsServiceRequest)) == events_of(case)


@pytest.mark.parametrize("case", CASES)
def test_golden_traces_read_back_as_the_events(case: str) -> None:
    data = (TESTDATA / case / "traces.otlp.json").read_bytes()
    assert sv_otel.spans_to_events(decode_json(data, ExportTraceServiceRequest)) == events_of(case)


def translate(*args: str) -> bytes:
    done = subprocess.run(
        [sys.executable, "-m", "sv_otel.cli", "translate", *args],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("signal", ["logs", "traces"])
def test_the_translate_command_round_trips_every_golden_case(
    case: str, signal: str, tmp_path: Path
) -> None:
    events_file = TESTDATA / case / "events.json"
    (line,) = translate("--to", "otlp", "--signal", signal, str(events_file)).splitlines()
    expected = golden(case, f"{signal}.otlp.json")
    if signal == "logs":
        assert without_observed_time(msgspec.json.decode(line)) == without_observed_time(expected)
    else:
        assert msgspec.json.decode(line) == expected
    otlp_lines = tmp_path / "otlp.jsonl"
    otlp_lines.write_bytes(line + b"\n")
    back = translate("--to", "sessionvision", str(otlp_lines)).splitlines()
    assert [msgspec.json.decode(x, type=sv_otel.Event) for x in back] == events_of(case)
