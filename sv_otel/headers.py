"""Request headers from configuration, checked once so that every request can carry them.

An exporter sends its configured headers (``headers:`` in YAML, ``OTEL_EXPORTER_OTLP_HEADERS``,
a client's ``headers=``) with every request. A name that is not an HTTP token, or a value with a
line break or another control character, cannot be sent: over HTTP it would be refused or,
written raw, split the request; as gRPC metadata it fails every call. gRPC also requires
lower-case names (the OTLP exporters lower-case them; names are case-insensitive in HTTP).
:func:`checked_header` refuses the first two at start-up, naming the header.
"""

from __future__ import annotations

from typing import Final

from sv_otel.errors import ConfigurationError

__all__ = ["CREDENTIAL", "checked_header", "checked_headers", "is_credential"]

CREDENTIAL: Final = "expected a non-empty string of printable ASCII without spaces"
"""What :func:`is_credential` wants, for error messages."""

_TOKEN: Final = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")


def checked_header(name: str, value: str, where: str) -> tuple[str, str]:
    """``(name, value)``, once checked.

    Raises:
        ConfigurationError: a name that is not an HTTP token, or a value with characters other
            than printable ASCII, space and tab (naming ``where`` and the header).
    """
    if not name or not _TOKEN.issuperset(name.lower()):
        raise ConfigurationError(f"{where}: {name!r} is not a valid header name")
    if not all(" " <= char <= "~" or char == "\t" for char in value):
        raise ConfigurationError(
            f"{where}: the value of {name!r} has characters a header cannot carry "
            "(only printable ASCII, space and tab)"
        )
    return name, value


def checked_headers(headers: dict[str, str], where: str) -> dict[str, str]:
    """Every header of ``headers`` through :func:`checked_header`."""
    return dict(checked_header(name, value, where) for name, value in headers.items())


def is_credential(value: object) -> bool:
    """Whether ``value`` can be a token clients send in a header: a non-empty string of
    printable ASCII without spaces (an empty token, say from an empty variable, would let in
    every client that sends an empty one)."""
    return type(value) is str and bool(value) and all("!" <= char <= "~" for char in value)
