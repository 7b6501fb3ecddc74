"""Scale-out by session: the Collector (loadbalancing.yaml) in front of two real sv_otel instances.

Each ``sv-otel serve`` instance has its own data directory, OTLP/gRPC receiver port and OTLP
backend, and runs the ``sessions`` processor, so its lifecycle events are only right if every
event of a session reaches it. The scenario runs once for the module:

1. the first events of 32 sessions go through the Collector; instance 0's backend is down, so
   what instance 0 acknowledged waits in its durable queue;
2. instance 0 is killed (SIGKILL), and more events (of those sessions and of 8 new ones) go
   through the Collector, which acknowledges them and keeps retrying instance 0's share;
3. instance 0 is started again on the same port and data directory, then its backend comes up;
4. the Collector and then the instances stop gracefully, which ends every session.

The tests then read what reached each instance's backend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from sv_otel.event import Event
from tests.collector._otelcol import free_port, loopback_env, run_collector
from tests.collector._sdk import export_events
from tests.collector._serve import SvOtel
from tests.collector._sink import OTLPSink
from tests.loop_thread import LoopThread

FIRST_SESSIONS = 32
"""Sessions that start before the kill (3 events each, 2 more after it)."""
NEW_SESSIONS = 8
"""Sessions that start while instance 0 is down (3 events each)."""
LIFECYCLE = ("session.start", "session.end")
RETRY_LINE = "Exporting failed. Will retry the request after interval."
T0 = 1709856000000


def _session(n: int) -> str:
    return f"5e55{n:04d}-0000-4000-8000-000000000000"


def _events(n: int, first: int, count: int) -> list[Event]:
    """Events ``first`` to ``first + count - 1`` of session ``n``, one second apart."""
    names = ["$pageview", "$autocapture", "add_to_cart", "$pageview", "checkout_started"]
    return [
        Event(
            event=names[k % len(names)],
            timestamp=T0 + n * 60_000 + k * 1000,
            properties={"$current_url": f"https://shop.example/p/{k}", "step": k},
            anonymous_id=f"anon-{n:04d}",
            user_id=f"user-{n:04d}" if k >= 2 else None,
            session_id=_session(n),
        )
        for k in range(first, first + count)
    ]


def _interleaved(per_session: list[list[Event]]) -> list[Event]:
    """One request's events as traffic mixes them: round-robin over the sessions, each session's
    in order."""
    out: list[Event] = []
    for k in range(max(len(events) for events in per_session)):
        out.extend(events[k] for events in per_session if k < len(events))
    return out


def _instance_config(
    directory: Path, grpc_port: int, backend_port: int, metrics_port: int
) -> dict[str, Any]:
    return {
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"127.0.0.1:{grpc_port}"}}}},
        "processors": {"sessions": None},
        "exporters": {
            "otlp": {
                "endpoint": f"http://127.0.0.1:{backend_port}",
                "retry_on_failure": {"initial_interval": "100ms", "max_interval": "300ms"},
            }
        },
        "service": {
            "data_dir": str(directory / "data"),
            "pipelines": {
                "logs": {"receivers": ["otlp"], "processors": ["sessions"], "exporters": ["otlp"]}
            },
            "telemetry": {"address": f"127.0.0.1:{metrics_port}"},
            "shutdown_timeout": "5s",
        },
    }


@dataclass
class ScaleOut:
    """What the scenario sent and what each instance's backend received."""

    sent: dict[str, list[Event]]
    """Session id -> the events sent for it, in order."""
    received: list[list[Event]] = field(default_factory=list)
    """Instance -> every event its backend received, in order (lifecycle events included)."""
    queued_at_kill: float = 0
    accepted_at_kill: float = 0
    kill_status: int = 0
    killed_endpoint: str = ""
    """The killed instance's OTLP/gRPC address, as the Collector routes to it."""
    retries_while_down: list[str] = field(default_factory=list)
    """The Collector's log lines about failed exports while the instance was down."""

    def sessions_at(self, instance: int) -> set[str]:
        return {event.session_id for event in self.received[instance]}

    def instance_of(self, session: str) -> int:
        [instance] = [i for i in (0, 1) if session in self.sessions_at(i)]
        return instance


@pytest.fixture(scope="module")
def scale_out(
    otelcol: Path, loop: LoopThread, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ScaleOut]:
    base = tmp_path_factory.mktemp("scale-out")
    grpc_ports, backend_ports, metrics_ports = ([free_port(), free_port()] for _ in range(3))
    instances = [
        SvOtel(
            loop,
            _instance_config(
                base / f"sv-otel-{i}", grpc_ports[i], backend_ports[i], metrics_ports[i]
            ),
            base / f"sv-otel-{i}",
            metrics_url=f"http://127.0.0.1:{metrics_ports[i]}",
        )
        for i in (0, 1)
    ]
    env = {
        **loopback_env(base / "collector"),
        "SV_OTEL_LB_BACKENDS": f"[127.0.0.1:{grpc_ports[0]}, 127.0.0.1:{grpc_ports[1]}]",
        "SV_OTEL_LB_INSECURE": "true",
    }
    before = {n: _events(n, 0, 3) for n in range(FIRST_SESSIONS)}
    after = {n: _events(n, 3, 2) for n in range(FIRST_SESSIONS)}
    after |= {n: _events(n, 0, 3) for n in range(FIRST_SESSIONS, FIRST_SESSIONS + NEW_SESSIONS)}
    result = ScaleOut(
        sent={_session(n): before.get(n, []) + after[n] for n in after},
        killed_endpoint=f"127.0.0.1:{grpc_ports[0]}",
    )

    def accepted(instance: SvOtel) -> float:
        return instance.metric("sv_otel_receiver_accepted_events_total", receiver="otlp")

    zero, one = instances
    backends = [OTLPSink(port=port) for port in backend_ports]
    try:
        with (
            backends[1],
            run_collector(
                otelcol, "loadbalancing.yaml", env, log_path=base / "collector.log"
            ) as balancer,
        ):
            for instance in instances:
                instance.start()
            # 1. Acknowledged by the Collector, then by the instances; instance 0 cannot export.
            export_events(balancer.grpc_endpoint, _interleaved(list(before.values())))
            first_wave = sum(len(events) for events in before.values())
            zero.wait_for(lambda: accepted(zero) + accepted(one) == first_wave, "the first events")
            result.accepted_at_kill = accepted(zero)
            result.queued_at_kill = zero.metric("sv_otel_queue_size_events", pipeline="logs")
            # 2. A crash: what instance 0 acknowledged is only in its durable queue.
            retried = len(_retries(balancer.log()))
            result.kill_status = zero.kill()
            export_events(balancer.grpc_endpoint, _interleaved(list(after.values())))
            zero.wait_for(lambda: len(_retries(balancer.log())) > retried, "the Collector retrying")
            result.retries_while_down = _retries(balancer.log())[retried:]
            # 3. The same instance again, then its backend.
            zero.start()
            with backends[0]:
                total = sum(len(events) for events in result.sent.values())
                zero.wait_for(
                    lambda: sum(len(_data(b.events())) for b in backends) >= total,
                    f"{total} events at the backends",
                )
                # 4. Graceful stops: the Collector first, then the instances end their sessions.
                balancer.stop()
                for instance in instances:
                    status = instance.stop()
                    assert status == 0, instance.log
        result.received = [backend.events() for backend in backends]
    finally:
        for instance in instances:
            if instance.process is not None:
                instance.kill()
    yield result


def _retries(log: str) -> list[str]:
    return [line for line in log.splitlines() if RETRY_LINE in line]


def _data(events: list[Event]) -> list[Event]:
    """The events that are not lifecycle events."""
    return [event for event in events if event.event not in LIFECYCLE]


def _json(events: list[Event]) -> list[bytes]:
    return [msgspec.json.encode(event) for event in events]


def test_each_session_lands_on_exactly_one_instance(scale_out: ScaleOut) -> None:
    on_zero, on_one = scale_out.sessions_at(0), scale_out.sessions_at(1)

    assert on_zero | on_one == set(scale_out.sent)
    assert not on_zero & on_one, "a session was split across instances"
    assert on_zero and on_one, "one instance received every session"
    for session, sent in scale_out.sent.items():
        instance = scale_out.instance_of(session)
        arrived = [e for e in _data(scale_out.received[instance]) if e.session_id == session]
        assert _json(arrived) == _json(sent), session  # all of them, once, in order


def test_session_lifecycle_events_are_right_on_each_instance(scale_out: ScaleOut) -> None:
    for session, sent in scale_out.sent.items():
        events = [
            e for e in scale_out.received[scale_out.instance_of(session)] if e.session_id == session
        ]
        names = [e.event for e in events]
        # session.start once, before the session's first event; session.end once, last.
        assert names == ["session.start", *(e.event for e in sent), "session.end"], session
        start, end = events[0], events[-1]
        assert start.timestamp == sent[0].timestamp
        assert end.properties["$session.end_reason"] == "shutdown"
        assert end.properties["$session.events_count"] == len(sent)
        assert end.properties["$session.started_at"] == sent[0].timestamp
        assert end.properties["$session.last_active_at"] == sent[-1].timestamp
        assert end.user_id == sent[-1].user_id


def test_a_killed_instance_restarted_loses_no_acknowledged_data(scale_out: ScaleOut) -> None:
    assert scale_out.kill_status == -9
    # When it was killed, instance 0 had acknowledged events it had not exported.
    assert scale_out.accepted_at_kill > 0
    assert scale_out.queued_at_kill >= scale_out.accepted_at_kill
    # The Collector held instance 0's share while it was down, and retried it there.
    assert scale_out.retries_while_down
    for line in scale_out.retries_while_down:
        assert f'"endpoint": "{scale_out.killed_endpoint}"' in line, line
        assert "code = Unavailable desc = connection error" in line, line
    # Everything sent arrived, once: the queued events after the restart, the Collector's share
    # once the instance was back, the other instance's share meanwhile.
    arrived = Counter(
        msgspec.json.encode(e) for received in scale_out.received for e in _data(received)
    )
    sent = Counter(msgspec.json.encode(e) for events in scale_out.sent.values() for e in events)
    assert arrived == sent
    # One session.start and one session.end a session, across the restart too.
    lifecycle = Counter(
        (e.session_id, e.event)
        for received in scale_out.received
        for e in received
        if e.event in LIFECYCLE
    )
    assert lifecycle == Counter({(s, name): 1 for s in scale_out.sent for name in LIFECYCLE})
