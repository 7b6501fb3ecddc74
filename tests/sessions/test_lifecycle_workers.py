"""Processors in two processes on one directory at once, as the workers of a gateway."""

from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path
from threading import Barrier

import msgspec

from sv_otel import Event
from sv_otel.sessions import SessionConfig, SessionLifecycleProcessor
from tests.sessions._helpers import T0

SESSIONS = 20
ROUNDS = 500
BATCH = 5
CONFIG = SessionConfig(inactivity_timeout=3600)


def work(directory: str, worker: int, out: str, barrier: Barrier) -> None:
    """Send ``ROUNDS`` batches over the shared sessions; write the lifecycle events seen."""
    processor = SessionLifecycleProcessor(directory, CONFIG)
    barrier.wait(60)  # both processors exist before either sends
    seen: list[list[str]] = []
    for number in range(ROUNDS):
        events = [
            Event(
                event=f"w{worker}",
                timestamp=T0 + number,
                session_id=f"s{(number * 7 + worker * 3 + k) % SESSIONS}",
                anonymous_id=f"a{k}",
            )
            for k in range(BATCH)
        ]
        for event in processor.process(events, now_ms=number):
            if event.event.startswith("session."):
                seen.append([event.event, event.session_id])
    processor.close()  # as a crash leaves it: sessions stay open
    Path(out).write_bytes(msgspec.json.encode(seen))


def test_two_processes_start_each_session_once_and_count_every_event(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    outs = [tmp_path / f"out{worker}.json" for worker in range(2)]
    barrier = context.Barrier(2)
    processes = [
        context.Process(target=work, args=(str(tmp_path), worker, str(outs[worker]), barrier))
        for worker in range(2)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    seen = [tuple(item) for out in outs for item in msgspec.json.decode(out.read_bytes())]
    starts = Counter(session for name, session in seen if name == "session.start")
    assert starts == Counter({f"s{n}": 1 for n in range(SESSIONS)})
    assert all(name == "session.start" for name, _ in seen)  # nothing ended or evicted
    ends = SessionLifecycleProcessor(tmp_path, CONFIG).shutdown(now_ms=ROUNDS)
    assert len(ends) == SESSIONS
    assert sum(int(e.properties["$session.events_count"]) for e in ends) == 2 * ROUNDS * BATCH
