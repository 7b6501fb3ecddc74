"""``sv-otel``: the entry point and its sub-commands.

Every failure the user can cause ends in one line on stderr (``sv-otel: <problem>``) and exit
status 1; usage mistakes exit 2 (argparse's convention). No traceback is shown for them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sv_otel._version import __version__
from sv_otel.cli import serve, sessions, translate
from sv_otel.errors import SvOtelError

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``sv-otel`` argument parser with all its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="sv-otel",
        description="Bridge sessionvision browser sessions and OpenTelemetry.",
    )
    parser.add_argument("--version", action="version", version=f"sv-otel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve.add_parser(commands)
    sessions.add_parser(commands)
    translate.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``sv-otel`` with ``argv`` (default: the process arguments); return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        status: int = args.run(args)
    except SvOtelError as error:
        print(f"sv-otel {args.command}: {error.message}", file=sys.stderr)
        return 1
    except OSError as error:
        print(
            f"sv-otel {args.command}: {error.strerror or error}: {error.filename}", file=sys.stderr
        )
        return 1
    except KeyboardInterrupt:
        return 130
    return status
