"""collector_config/loadbalancing.yaml, live: every session's data lands on exactly one backend."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from tests.collector._otelcol import loopback_env, run_collector
from tests.collector._sdk import emit_logs, emit_spans
from tests.collector._sink import OTLPSink, Record

SESSIONS = [f"session-{n:02d}" for n in range(24)]
EVENTS_PER_SESSION = 5


def _by_session(records: list[Record]) -> dict[str, set[str]]:
    """session.id -> the signals and event names seen for it, for one sink."""
    seen: dict[str, set[str]] = defaultdict(set)
    for record in records:
        seen[record.attributes.get("session.id", "")].add(f"{record.signal}:{record.name}")
    return seen


def test_each_session_lands_on_exactly_one_backend(otelcol: Path, tmp_path: Path) -> None:
    logs = [
        (f"click-{n}", {"session.id": session})
        for session in SESSIONS
        for n in range(EVENTS_PER_SESSION)
    ]
    spans = [(f"GET /cart {session}", {"session.id": session}) for session in SESSIONS]
    # A browser SDK that puts the session on its resource only: the transform copies it down.
    resource_session = "session-on-resource"
    expected = len(logs) + len(spans) + 1

    with OTLPSink() as one, OTLPSink() as two:
        env = {
            **loopback_env(tmp_path),
            "SV_OTEL_LB_BACKENDS": f"[{one.endpoint}, {two.endpoint}]",
            "SV_OTEL_LB_INSECURE": "true",
        }
        with run_collector(otelcol, "loadbalancing.yaml", env, log_path=tmp_path / "lb.log") as lb:
            emit_logs(lb.grpc_endpoint, logs)
            emit_spans(lb.grpc_endpoint, spans)
            emit_logs(
                lb.grpc_endpoint, [("page_view", {})], resource={"session.id": resource_session}
            )

            for sink in (one, two):
                sink.wait_until(lambda _: len(one.records()) + len(two.records()) >= expected)

        on_one, on_two = _by_session(one.records()), _by_session(two.records())

    assert len(one.records()) + len(two.records()) == expected  # nothing lost or duplicated
    assert set(on_one) | set(on_two) == {*SESSIONS, resource_session}
    assert not set(on_one) & set(on_two), "a session was split across backends"
    assert on_one and on_two, "one backend received every session"
    for session in SESSIONS:
        seen = on_one.get(session) or on_two[session]
        # The session's events and its span met on the same backend.
        assert seen == {f"logs:click-{n}" for n in range(EVENTS_PER_SESSION)} | {
            f"traces:GET /cart {session}"
        }
    assert (on_one.get(resource_session) or on_two[resource_session]) == {"logs:page_view"}


def test_throttled_backend_gets_everything_after_retrying(otelcol: Path, tmp_path: Path) -> None:
    records = [(f"event-{n}", {"session.id": f"s-{n % 7}"}) for n in range(50)]

    with OTLPSink(refusals=2, retry_delay=0.5) as sink:
        env = {
            **loopback_env(tmp_path),
            "SV_OTEL_LB_BACKENDS": f"[{sink.endpoint}]",
            "SV_OTEL_LB_INSECURE": "true",
        }
        with run_collector(otelcol, "loadbalancing.yaml", env, log_path=tmp_path / "lb.log"):
            emit_logs(env["SV_OTEL_COLLECTOR_GRPC_ENDPOINT"], records)
            sink.wait_until(lambda s: len(s.records()) >= len(records))

        received = sorted(record.name for record in sink.records())

    assert sink.refused == 2
    assert sink.calls > sink.refused
    assert received == sorted(name for name, _ in records)  # each record exactly once
