"""Session lifecycle: ``session.start`` / ``session.end`` events and the session summaries.

:class:`SessionLifecycleProcessor` sits between a receiver and the queue. It sees every event,
and:

* before the first event of a session it emits ``session.start`` (the semantic conventions'
  event; it becomes a log record with ``event_name``), stamped with the first event's time and
  carrying ``session.previous_id`` when the same user id (or else anonymous id) had an earlier
  session, plus the session metadata when the first event is ``$start``;
* a session ends with ``session.end`` (summary attributes, see :mod:`sv_otel.sessions.summary`)
  when no event came for ``inactivity_timeout`` (``timeout``), ``max_duration`` after its start
  (``max_duration``), on :meth:`shutdown` (``shutdown``), or when it is evicted (``evicted``).
  Its Highlight Session document goes to ``summaries.jsonl``. Both clocks are the server's
  (``now_ms``); the ``session.end`` event is stamped with the session's last activity.

The processor owns the state (the tracked sessions of :mod:`sv_otel.sessions.tracked`, the
state database and files, the locks) and the clocks (:meth:`poll`, :meth:`shutdown`); each
call's starting and ending of sessions is a :class:`~sv_otel.sessions.run.Run`.

**Bounded state and eviction.** At most ``max_sessions`` sessions are tracked (in memory and in
the state database), taking at most ``max_memory_bytes`` of memory together, as estimated by
:mod:`sv_otel.sessions.memory` (one session takes about 1 KB typically, and its own bounds keep it
under about 50 KB whatever its events say). A new session past the cap, or events that take the
sessions past the memory bound, end the least recently active ones (by the server's clock) with
reason ``evicted``: a summary is written and later events pass through without lifecycle events,
like every late event of an ended session. Ended ids are remembered
(``max_ended``, oldest forgotten first); only a session whose id was forgotten could start twice.

**Restarts.** Every call commits its changes before returning, so a new processor on the same
directory (after a crash, or a shutdown with ``end_on_shutdown=False``) continues the same
sessions: no second ``session.start``.

**Several processes.** Processors of several processes may share the directory (the workers of
``sv-otel serve --workers N``, whose requests land on any worker): each call holds the
directory's lock and first takes in what the others committed (see
:mod:`sv_otel.sessions.store`), so a session starts and ends once whichever worker sees its
events, and the cap counts the sessions of all of them. Timeouts are exact to the poll interval.
Within a process, the methods are thread-safe (one lock).

Usage (the gateway's part)::

    processor = SessionLifecycleProcessor(data_dir, SessionConfig(inactivity_timeout=1800))
    out = processor.process(batch.events, now_ms)  # the events plus lifecycle events
    out = processor.poll(now_ms)  # periodically: timeouts
    out = processor.shutdown(now_ms)  # once, on a graceful stop
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import msgspec

from sv_otel.errors import ConfigurationError, QueueFullError
from sv_otel.event import Event
from sv_otel.sessions.config import EVENTS_FILE, SUMMARIES_FILE, SessionConfig, sessions_dir
from sv_otel.sessions.jsonlines import RotatingJsonLines
from sv_otel.sessions.run import Known, Run, identities_of, tracked
from sv_otel.sessions.store import SessionStore
from sv_otel.sessions.summary import highlight_document
from sv_otel.sessions.tracked import Tracked

__all__ = ["SessionLifecycleProcessor"]

logger = logging.getLogger(__name__)


class SessionLifecycleProcessor:
    """Emits session lifecycle events and writes session summaries (see the module docstring).

    Args:
        data_dir: the data directory; files go to ``<data_dir>/sessions/``.
        config: timeouts, caps and summary settings.

    Raises:
        ConfigurationError: the directory or its state cannot be used.
    """

    name: str = "sessions"

    def __init__(self, data_dir: str | Path, config: SessionConfig | None = None) -> None:
        self.config = config or SessionConfig()
        directory = self._directory = sessions_dir(data_dir)
        self._store = SessionStore(
            directory, max_ended=self.config.max_ended, max_identities=self.config.max_identities
        )
        self._summaries = RotatingJsonLines(directory / SUMMARIES_FILE, self.config.max_file_bytes)
        self._events = RotatingJsonLines(directory / EVENTS_FILE, self.config.max_file_bytes)
        self._lock = threading.Lock()
        self._closed = False
        self._tracked = Tracked()
        try:
            with self._store.locked():
                self._store.save_settings(
                    {"project_id": self.config.project_id, "session_url": self.config.session_url}
                )
                self._load()
        except sqlite3.Error as exc:
            self._store.close()
            raise ConfigurationError(f"{directory}: unusable session state ({exc})") from None
        except ConfigurationError:
            self._store.close()
            raise

    def _load(self) -> None:
        """(Re)build the in-memory sessions from the state database."""
        try:
            self._tracked = Tracked(self._store.load())
        except (msgspec.MsgspecError, sqlite3.Error) as exc:
            raise ConfigurationError(
                f"{self._directory}: unreadable session state ({exc})"
            ) from None

    def __len__(self) -> int:
        """The number of sessions being tracked."""
        return len(self._tracked)

    def process(self, events: Sequence[Event], now_ms: int) -> list[Event]:
        """Track ``events``; return them with lifecycle events inserted.

        Each ``session.start`` comes right before the first event of its session; a
        ``session.end`` comes where its session timed out (checked for the sessions of
        ``events``) or was evicted.

        Raises:
            QueueFullError: the state could not be saved (a full disk...); nothing changed, so
                the caller answers 503 and the client sends the events again.
        """
        with self._lock:
            self._check_open()
            with self._store.locked():
                self._sync()
                run = self._run()
                try:
                    known = self._known(events)
                except sqlite3.Error as exc:
                    raise QueueFullError(
                        f"session state: could not be read ({exc}); try again", retry_after=1.0
                    ) from None
                with self._undo_on_error():
                    for event in events:
                        run.add(event, now_ms, known)
                self._commit(run)
                return run.out

    def poll(self, now_ms: int) -> list[Event]:
        """End the sessions idle for ``inactivity_timeout`` or open for ``max_duration``.

        Raises:
            QueueFullError: the state could not be saved; nothing changed.
        """
        with self._lock:
            self._check_open()
            with self._store.locked():
                self._sync()
                run = self._run()
                timeout = self.config.inactivity_timeout_ms
                longest = self.config.max_duration_ms
                with self._undo_on_error():
                    for state in list(self._tracked.by_seen.values()):
                        if now_ms - state.last_seen_ms < timeout:
                            break
                        run.end(state, "timeout")
                    for state in list(self._tracked.by_start.values()):
                        if now_ms - state.first_seen_ms < longest:
                            break
                        run.end(state, "max_duration")
                self._commit(run)
                return run.out

    def shutdown(self, now_ms: int) -> list[Event]:
        """End every session (if ``end_on_shutdown``), write everything and close.

        Calling it again returns nothing.
        """
        with self._lock:
            if self._closed:
                return []
            try:
                with self._store.locked():
                    self._sync_or_warn()
                    run = self._run()
                    if self.config.end_on_shutdown:
                        for state in list(self._tracked.by_seen.values()):
                            run.end(state, "shutdown")
                    self._commit(run)
            finally:
                self._close()
            return run.out

    def close(self) -> None:
        """Release the directory without ending sessions (as a crash would leave it)."""
        with self._lock:
            if not self._closed:
                self._close()

    def has_ended(self, session_id: str) -> bool:
        """Whether ``session_id`` is recorded as ended (its events no longer count)."""
        with self._lock:
            self._check_open()
            with self._store.locked():
                self._sync_or_warn()
                if session_id in self._tracked.by_seen:
                    return False
                try:
                    return bool(self._store.ended([session_id]))
                except sqlite3.Error:
                    logger.warning("session state unreadable; treating %r as open", session_id)
                    return False

    def summary(self, session_id: str) -> dict[str, object] | None:
        """The Highlight document of a tracked session so far, or None if it is not tracked."""
        with self._lock:
            if not self._closed:
                with self._store.locked():
                    self._sync_or_warn()
            state = self._tracked.by_seen.get(session_id)
            if state is None:
                return None
            return highlight_document(state, self.config, end_reason=None)

    def _sync(self) -> None:
        """Take in what other processes committed since this one's last call (holding the lock),
        as :meth:`~sv_otel.sessions.tracked.Tracked.merge` says.

        Raises:
            QueueFullError: the state could not be read; nothing changed.
        """
        try:
            found = self._store.changes()
        except (sqlite3.Error, msgspec.MsgspecError) as exc:
            raise QueueFullError(
                f"session state: could not be read ({exc}); try again", retry_after=1.0
            ) from None
        if found is not None:
            states, ended = found
            self._tracked.merge(states, ended)

    def _run(self) -> Run:
        return Run(self.config, self._tracked.by_seen, self._tracked.by_start, self._tracked.memory)

    def _sync_or_warn(self) -> None:
        try:
            self._sync()
        except QueueFullError as error:
            logger.warning("%s; going on with what this process knows", error.message)

    def _known(self, events: Sequence[Event]) -> Known:
        """Look up, in one query each, what the store knows about the batch's new sessions."""
        new: dict[str, Event] = {}
        for event in events:
            if event.session_id not in self._tracked.by_seen and tracked(event):
                new.setdefault(event.session_id, event)
        if not new:
            return Known(set(), {})
        identities = set()
        for event in new.values():
            identities.update(identities_of(event))
        return Known(self._store.ended(new), self._store.last_sessions(identities))

    @contextmanager
    def _undo_on_error(self) -> Iterator[None]:
        """A run changes the tracked sessions in place: if building it fails, reload them."""
        try:
            yield
        except Exception:
            self._load()
            raise

    def _commit(self, run: Run) -> None:
        """Write the run's files, then its state changes; on failure, forget the run."""
        for session_id in run.changes.ended:
            run.changes.upserted.pop(session_id, None)
        try:
            if run.summaries:
                self._summaries.append(run.summaries)
            if run.recorded:
                self._events.append(run.recorded)
            self._store.commit(run.changes)
            self._tracked.memory = run.memory
        except (OSError, sqlite3.Error) as exc:
            self._load()  # back to what is on disk
            raise QueueFullError(
                f"session state: could not be saved ({exc}); try again", retry_after=1.0
            ) from None

    def _check_open(self) -> None:
        if self._closed:
            raise ConfigurationError("the session processor is shut down")

    def _close(self) -> None:
        self._closed = True
        self._summaries.close()
        self._events.close()
        self._store.close()
