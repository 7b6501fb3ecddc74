"""Reading the session files of a data directory (what ``sv-otel sessions`` prints).

Ended sessions come from ``summaries.jsonl`` (the last document of a session wins, should a
crash have written one twice); open ones are summarised from the state database, read-only, with
``processed: false``. Events come from ``events.jsonl``. Lines that cannot be read are reported,
never fatal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sv_otel.errors import ConfigurationError, SessionNotFoundError
from sv_otel.event import JSONValue
from sv_otel.ids import session_trace_id
from sv_otel.sessions.config import (
    DEFAULT_PROJECT_ID,
    EVENTS_FILE,
    SUMMARIES_FILE,
    SessionConfig,
    sessions_dir,
)
from sv_otel.sessions.jsonlines import JsonLine, read_json_lines
from sv_otel.sessions.store import read_states
from sv_otel.sessions.summary import highlight_document

__all__ = ["Listing", "SessionRecord", "list_sessions", "show_session"]


@dataclass(slots=True)
class Listing:
    """Every session document of a data directory, and the lines that could not be read."""

    documents: list[dict[str, JSONValue]] = field(default_factory=list)
    bad_lines: list[JsonLine] = field(default_factory=list)


@dataclass(slots=True)
class SessionRecord:
    """One session: its document, its recorded events and its linked backend trace ids."""

    document: dict[str, JSONValue]
    events: list[dict[str, JSONValue]]
    trace_ids: list[str]
    bad_lines: list[JsonLine] = field(default_factory=list)

    def to_json(self) -> dict[str, JSONValue]:
        """``{"session": document, "events": [...], "trace_ids": [...]}``."""
        return {"session": self.document, "events": self.events, "trace_ids": self.trace_ids}


def list_sessions(data_dir: str | Path) -> Listing:
    """Return the documents of ended sessions (oldest first), then of open ones.

    Raises:
        ConfigurationError: ``data_dir`` does not exist, or its state cannot be read.
    """
    directory = _directory(data_dir)
    listing = Listing()
    ended: dict[str, dict[str, JSONValue]] = {}
    for line in read_json_lines(directory / SUMMARIES_FILE):
        secure_id = None if line.value is None else line.value.get("secure_id")
        if line.value is None:
            listing.bad_lines.append(line)
        elif type(secure_id) is str:
            ended.pop(secure_id, None)
            ended[secure_id] = line.value
        else:
            listing.bad_lines.append(JsonLine(line.path, line.number, None, "no secure_id"))
    listing.documents.extend(ended.values())
    states, settings = read_states(directory)
    config = _config(settings)
    for state in sorted(states, key=lambda s: s.first_seen_ms):
        if state.session_id not in ended:
            listing.documents.append(highlight_document(state, config, end_reason=None))
    return listing


def show_session(data_dir: str | Path, session_id: str) -> SessionRecord:
    """Return one session's document, recorded events and linked backend trace ids.

    Raises:
        SessionNotFoundError: no session ``session_id`` in ``data_dir``.
        ConfigurationError: ``data_dir`` does not exist, or its state cannot be read.
    """
    directory = _directory(data_dir)
    listing = list_sessions(data_dir)
    document = next((doc for doc in listing.documents if doc.get("secure_id") == session_id), None)
    if document is None:
        raise SessionNotFoundError(f"no session {session_id!r} in {directory}")
    record = SessionRecord(document, [], [], listing.bad_lines)
    extra = document.get("sv_otel")
    linked = extra.get("trace_ids") if type(extra) is dict else None
    own = session_trace_id(session_id).hex()
    seen = set()
    for trace_id in linked if type(linked) is list else []:
        if type(trace_id) is str and trace_id not in seen:
            seen.add(trace_id)
            record.trace_ids.append(trace_id)
    for line in read_json_lines(directory / EVENTS_FILE):
        item = line.value
        if item is None:
            record.bad_lines.append(line)
            continue
        if item.get("sessionId") != session_id:
            continue
        record.events.append(item)
        props = item.get("properties")
        trace_id = props.get("trace_id") if type(props) is dict else None
        if type(trace_id) is str and trace_id != own and trace_id not in seen:
            seen.add(trace_id)
            record.trace_ids.append(trace_id)
    return record


def _directory(data_dir: str | Path) -> Path:
    if not Path(data_dir).is_dir():
        raise ConfigurationError(f"--data-dir {data_dir}: not a directory")
    return sessions_dir(data_dir)


def _config(settings: dict[str, str | None]) -> SessionConfig:
    project_id = settings.get("project_id") or DEFAULT_PROJECT_ID
    url = settings.get("session_url")
    try:
        return SessionConfig(project_id=project_id, session_url=url)
    except ConfigurationError:
        return SessionConfig(project_id=project_id)
