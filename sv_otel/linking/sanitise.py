"""Clean ids taken from request headers: every value is hostile until it passes here.

A session, user or anonymous id read from a request is copied onto every span and log record of
that request, so it is held to a narrow rule before it is used:

1. it must be a ``str`` (anything else is rejected);
2. C0 and C1 control characters and DEL (``[\\x00-\\x1f\\x7f-\\x9f]``) are removed and the
   result is trimmed of whitespace (PostHog's rule for tracing headers);
3. what is left must be 1 to ``max_length`` characters (256 for ids, 1024 for tokens) of
   ``A-Z a-z 0-9 . _ : @ + = ~ -``, the first a letter or digit. A longer value is **rejected,
   not truncated** (a truncated id would link the request to some other session), and so is
   any other character: commas, slashes, spaces inside the value, quotes, non-ASCII letters.

The rule accepts UUIDs, hex ids, ULIDs, Highlight's secure ids, e-mail-like user ids, and
base64url or JWT-shaped tokens. Clean values (the common case) cost one regular-expression match.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MAX_ID_LENGTH", "MAX_TOKEN_LENGTH", "clean_id", "clean_token"]

MAX_ID_LENGTH: Final = 256
"""Longest session, user or anonymous id accepted, in characters."""

MAX_TOKEN_LENGTH: Final = 1024
"""Longest token accepted (a signed session token, an OpenReplay session token)."""

_CONTROL: Final = re.compile("[\x00-\x1f\x7f-\x9f]")
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@+=~-]*")


def clean_id(value: object, max_length: int = MAX_ID_LENGTH) -> str | None:
    """Return ``value`` cleaned by the module's rule, or None when it is rejected.

    Args:
        value: the raw header or baggage value.
        max_length: the longest accepted result, in characters.

    Returns:
        The clean id, or None for a non-string, an empty, an over-long or an out-of-charset
        value.
    """
    if type(value) is not str:
        return None
    if len(value) <= max_length and _ID.fullmatch(value):
        return value
    # Slow path: whitespace or control characters around (or inside) an otherwise good id.
    # Bound the work first: a value this long cannot shrink to max_length by trimming alone.
    if len(value) > 4 * max_length:
        return None
    cleaned = _CONTROL.sub("", value).strip()
    if len(cleaned) > max_length or not _ID.fullmatch(cleaned):
        return None
    return cleaned


def clean_token(value: object) -> str | None:
    """Return a token cleaned like an id but up to :data:`MAX_TOKEN_LENGTH` long, or None."""
    return clean_id(value, MAX_TOKEN_LENGTH)
