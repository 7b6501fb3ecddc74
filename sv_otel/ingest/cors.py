"""CORS for the ingest endpoint, as a pure function of the request headers.

Browsers post batches cross-origin. ``Content-Type: application/json`` and
``Content-Encoding: gzip`` make the SDK's ``fetch`` a non-simple request, so the browser first
sends a preflight ``OPTIONS``; ``navigator.sendBeacon`` with a ``text/plain`` body needs none.
Allowed origins are exact (``https://shop.example.com``), wildcard subdomains
(``https://*.example.com``) or ``*``. The allowed origin is echoed back (never ``*``) with
``Vary: Origin``, and ``Retry-After`` is exposed so a page can read the 503 hint.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["DEFAULT_ALLOWED_HEADERS", "CorsPolicy"]

DEFAULT_ALLOWED_HEADERS = ("Content-Type", "Content-Encoding", "Authorization")


@dataclass(frozen=True)
class CorsPolicy:
    """Which origins may post batches, and the headers their requests may carry.

    Attributes:
        allowed_origins: exact origins, ``https://*.example.com`` patterns, or ``*``; empty
            disables CORS (no CORS headers; requests with any ``Origin`` still accepted).
        allowed_headers: request headers a preflight may ask for (case-insensitive).
        max_age: seconds a browser may cache a preflight answer.
    """

    allowed_origins: tuple[str, ...] = ("*",)
    allowed_headers: tuple[str, ...] = DEFAULT_ALLOWED_HEADERS
    max_age: int = 7200
    _patterns: tuple[re.Pattern[str], ...] = field(init=False, repr=False, compare=False)
    _header_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        patterns = tuple(_pattern(origin) for origin in self.allowed_origins)
        object.__setattr__(self, "_patterns", patterns)
        names = frozenset(h.lower() for h in self.allowed_headers)
        object.__setattr__(self, "_header_names", names)

    @property
    def enabled(self) -> bool:
        """Whether CORS is configured at all."""
        return bool(self.allowed_origins)

    def allows(self, origin: str | None) -> bool:
        """Whether a request from ``origin`` is allowed (no ``Origin`` header: not a browser)."""
        if origin is None or not self.enabled:
            return True
        return any(pattern.fullmatch(origin) for pattern in self._patterns)

    def response_headers(self, origin: str | None) -> dict[str, str]:
        """Headers for the actual (non-preflight) response to a request from ``origin``."""
        if origin is None or not self.enabled or not self.allows(origin):
            return {}
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Expose-Headers": "Retry-After",
            "Vary": "Origin",
        }

    def preflight(self, origin: str | None, method: str | None, headers: str | None) -> str | None:
        """Check a preflight; return the problem, or None when it is allowed."""
        if origin is None:
            return "preflight without an Origin header"
        if not self.allows(origin):
            return f"Origin: {origin!r} is not an allowed origin"
        if method is not None and method.upper() != "POST":
            return f"Access-Control-Request-Method: {method!r} is not allowed; use POST"
        for name in _split(headers or ""):
            if name.lower() not in self._header_names:
                return f"Access-Control-Request-Headers: {name!r} is not an allowed header"
        return None

    def preflight_headers(self, origin: str) -> dict[str, str]:
        """Headers of a successful preflight answer."""
        return {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "POST, OPTIONS",
            "Access-Control-Allow-Headers": ", ".join(self.allowed_headers),
            "Access-Control-Expose-Headers": "Retry-After",
            "Access-Control-Max-Age": str(self.max_age),
            "Vary": "Origin",
        }

    @classmethod
    def create(
        cls, origins: Iterable[str], extra_headers: Iterable[str], max_age: int
    ) -> CorsPolicy:
        """A policy allowing ``origins`` and the default headers plus ``extra_headers``."""
        headers = list(DEFAULT_ALLOWED_HEADERS)
        for header in extra_headers:
            if header.lower() not in {h.lower() for h in headers}:
                headers.append(header)
        return cls(tuple(origins), tuple(headers), max_age)


def _pattern(origin: str) -> re.Pattern[str]:
    if origin == "*":
        return re.compile(r".*")
    return re.compile(".*".join(re.escape(part) for part in origin.split("*")), re.IGNORECASE)


def _split(headers: str) -> list[str]:
    return [name.strip() for name in headers.split(",") if name.strip()]
