"""Read a few known entries from a W3C ``baggage`` header, and add one entry to a header.

Reading is bounded the way OpenTelemetry's own ``W3CBaggagePropagator`` bounds it, so both see
the same header the same way: a header (all values together) longer than
:data:`MAX_HEADER_LENGTH` is ignored whole, entries past :data:`MAX_ENTRIES` are ignored, and so
is any entry longer than :data:`MAX_ENTRY_LENGTH`. Only the keys asked for are decoded; the rest
of the header is never copied anywhere. A key that appears twice with different values is
ambiguous and yields nothing.

Writing (:func:`merge_entry`) keeps every foreign entry byte for byte (with its properties),
drops earlier entries of the same key, and appends the new one, so a header never carries
duplicates and other vendors' entries (Sentry's frozen ``sentry-*`` context, for one) survive.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final
from urllib.parse import quote, unquote

__all__ = [
    "MAX_ENTRIES",
    "MAX_ENTRY_LENGTH",
    "MAX_HEADER_LENGTH",
    "merge_entry",
    "read_entries",
]

MAX_HEADER_LENGTH: Final = 8192
"""Longest ``baggage`` header read, all values together (the W3C limit)."""

MAX_ENTRIES: Final = 180
"""Most entries read from one header (OpenTelemetry Python's limit)."""

MAX_ENTRY_LENGTH: Final = 4096
"""Longest single entry read (the W3C limit)."""

_AMBIGUOUS: Final = "\0ambiguous"


def read_entries(values: Sequence[str], keys: Collection[str]) -> dict[str, str]:
    """Return the percent-decoded values of the entries named in ``keys``.

    Args:
        values: the ``baggage`` header values of one request (a header may be sent more than
            once; the values are read as one list).
        keys: the entry keys wanted, e.g. ``{"session.id", "user.id"}``.

    Returns:
        A dict from each wanted key found exactly once (or always with the same value) to its
        decoded value. Properties (``;prop=...``) are dropped. Never raises.
    """
    if sum(len(value) for value in values) > MAX_HEADER_LENGTH:
        return {}
    found: dict[str, str] = {}
    seen = 0
    for value in values:
        if type(value) is not str or not any(key in value for key in keys):
            seen += value.count(",") + 1 if type(value) is str else 1
            continue
        for entry in value.split(","):
            seen += 1
            if seen > MAX_ENTRIES:
                break
            if len(entry) > MAX_ENTRY_LENGTH:
                continue
            name, equals, rest = entry.partition("=")
            name = name.strip()
            if not equals or name not in keys:
                continue
            decoded = unquote(rest.partition(";")[0].strip())
            previous = found.get(name)
            found[name] = decoded if previous in (None, decoded) else _AMBIGUOUS
    return {key: value for key, value in found.items() if value is not _AMBIGUOUS}


def merge_entry(existing: str | None, key: str, value: str) -> str:
    """Return ``existing`` (a ``baggage`` header, or None) with ``key=value`` as its one ``key``.

    Entries of other keys are kept as they were written; ``value`` is percent-encoded.
    """
    entry = f"{key}={quote(value, safe='')}"
    if not existing:
        return entry
    kept = [
        item
        for item in existing.split(",")
        if item.strip() and item.partition("=")[0].strip() != key
    ]
    kept.append(entry)
    return ",".join(kept)
