"""``sv-otel sessions``: the sessions recorded in a data directory.

* ``list --data-dir DIR`` prints one Highlight Session JSON document a line: ended sessions
  (oldest first, ``processed: true``), then open ones (``processed: false``).
* ``show ID --data-dir DIR`` prints one JSON object: ``session`` (the document), ``events``
  (the session's recorded events, lifecycle events included) and ``trace_ids`` (linked backend
  traces).

Lines of the data files that cannot be read are reported on stderr and skipped.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable

import msgspec

from sv_otel.sessions.archive import list_sessions, show_session
from sv_otel.sessions.jsonlines import JsonLine

__all__ = ["add_parser", "run_list", "run_show"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``sessions`` (with ``list`` and ``show``) on the ``sv-otel`` parser."""
    parser = commands.add_parser(
        "sessions",
        help="list or show the sessions recorded in a data directory",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="one Highlight Session JSON document a line")
    listing.add_argument("--data-dir", required=True, metavar="DIR", help="the data directory")
    listing.set_defaults(run=run_list)
    show = actions.add_parser("show", help="one session: document, events, linked trace ids")
    show.add_argument("session_id", metavar="ID", help="the session id")
    show.add_argument("--data-dir", required=True, metavar="DIR", help="the data directory")
    show.set_defaults(run=run_show)


def run_list(args: argparse.Namespace) -> int:
    """Run ``sv-otel sessions list``."""
    listing = list_sessions(args.data_dir)
    _warn(listing.bad_lines)
    out = sys.stdout.buffer
    for document in listing.documents:
        out.write(msgspec.json.encode(document))
        out.write(b"\n")
    out.flush()
    return 0


def run_show(args: argparse.Namespace) -> int:
    """Run ``sv-otel sessions show``."""
    record = show_session(args.data_dir, args.session_id)
    _warn(record.bad_lines)
    out = sys.stdout.buffer
    out.write(msgspec.json.format(msgspec.json.encode(record.to_json()), indent=2))
    out.write(b"\n")
    out.flush()
    return 0


def _warn(lines: Iterable[JsonLine]) -> None:
    for line in lines:
        print(
            f"sv-otel sessions: {line.path} line {line.number}: {line.problem}, skipped",
            file=sys.stderr,
        )
