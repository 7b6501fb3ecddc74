"""``sv-otel translate`` run as a real subprocess, as a user would run it."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from sv_otel import parse_batch

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "batch.json"


def _run(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sv_otel.cli", "translate", *args],
        input=stdin,
        capture_output=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize("signal", ["logs", "traces"])
def test_round_trip_through_otlp_json_lines(signal: str, tmp_path: Path) -> None:
    otlp = tmp_path / "out.otlp.jsonl"
    forward = _run("--to", "otlp", "--signal", signal, str(EXAMPLE), "-o", str(otlp))
    assert forward.returncode == 0, forward.stderr
    line = msgspec.json.decode(otlp.read_bytes().splitlines()[0])
    assert ("resourceLogs" if signal == "logs" else "resourceSpans") in line
    back = _run("--to", "sessionvision", str(otlp))
    assert back.returncode == 0, back.stderr
    events = [msgspec.json.decode(x) for x in back.stdout.splitlines()]
    assert (
        parse_batch(msgspec.json.encode(events)).events == parse_batch(EXAMPLE.read_bytes()).events
    )


def test_stdin_gzip_and_stdout() -> None:
    result = _run("--to", "otlp", stdin=gzip.compress(EXAMPLE.read_bytes()))
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["--to", "otlp"],
            b"[1,",
            "sv-otel translate: body: not JSON (Input data was truncated)\n",
        ),
        (
            ["--to", "otlp"],
            b'[{"event":"a","timestamp":"x","sessionId":"s"}]',
            "sv-otel translate: events[0].timestamp: "
            'expected integer epoch milliseconds, got "x"\n',
        ),
        (
            ["--to", "sessionvision"],
            b'{"resourceLogs":[]}\n{"nope":1}\n',
            "sv-otel translate: line 2: expected an OTLP/JSON logs or traces request "
            "(an object with resourceLogs or resourceSpans)\n",
        ),
        (
            ["--to", "sessionvision"],
            b"{oops\n",
            "sv-otel translate: line 1: not JSON (JSON is malformed: object keys must be strings "
            "(byte 1))\n",
        ),
        (["--to", "otlp", "/no/such/file"], b"", "sv-otel translate: No such file or directory: "
         "/no/such/file\n"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_1(args: list[str], stdin: bytes, message: str) -> None:
    result = _run(*args, stdin=stdin)
    assert result.returncode == 1
    assert result.stdout == b""
    assert result.stderr.decode() == message


def test_numbers_in_otlp_json_lines_are_read_exactly(tmp_path: Path) -> None:
    # 2**53 + 1 in exponent form: a float would round it to 2**53.
    line = (
        b'{"resourceLogs":[{"scopeLogs":[{"scope":{"name":"sessionvision"},"logRecords":[{'
        b'"timeUnixNano":"1709856000000000000","eventName":"e","attributes":['
        b'{"key":"session.id","value":{"stringValue":"s"}},'
        b'{"key":"n","value":{"intValue":9.007199254740993e15}}]}]}]}]}'
    )
    source = tmp_path / "in.otlp.jsonl"
    source.write_bytes(line + b"\n")
    back = _run("--to", "sessionvision", str(source))
    assert back.returncode == 0, back.stderr
    (event,) = [msgspec.json.decode(x) for x in back.stdout.splitlines()]
    assert event["properties"] == {"n": 2**53 + 1}
