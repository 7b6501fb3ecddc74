"""tests/testdata/otelcol/ is what the Collector built from builder.yaml forwards today."""

from __future__ import annotations

from pathlib import Path

from tests.collector._capture import capture, case_events, cases, golden_path, sv_otel_requests


def test_the_captured_collector_encoding_is_current(otelcol: Path, tmp_path: Path) -> None:
    everything = {case: case_events(case) for case in cases()}
    stale = []
    for case, bodies in capture(otelcol, tmp_path, everything).items():
        for signal, body in bodies.items():
            # The Collector encodes afresh: the same message, other bytes.
            assert body != sv_otel_requests(everything[case])[signal]
            if golden_path(case, signal).read_bytes() != body:
                stale.append(golden_path(case, signal).name)

    assert not stale, (
        f"the Collector now forwards other bytes for {', '.join(stale)}: check that "
        "tests/translate still passes with `.venv/bin/python -m tests.collector._capture`"
    )
