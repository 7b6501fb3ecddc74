"""The ``sv-otel`` command line."""

from sv_otel.cli.main import main

__all__ = ["main"]
