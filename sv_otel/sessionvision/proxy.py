"""The ingest client's default transport: ``IngestTransport``, or httpx's through a proxy.

:class:`~sv_otel.sessionvision.transport.IngestTransport` speaks to the ingest host directly and
knows nothing of proxies, so when ``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``ALL_PROXY`` applies to the
host (and ``NO_PROXY`` does not exclude it), as for an :class:`httpx.AsyncClient`, posts go
through an :class:`httpx.AsyncHTTPTransport` to the proxy instead.
:class:`~sv_otel.sessionvision.client.IngestClient` asks :func:`default_transport` once, when it
is made.
"""

from __future__ import annotations

import urllib.request
from urllib.parse import urlsplit

import httpx

from sv_otel.sessionvision.transport import IngestTransport

__all__ = ["default_transport"]


def default_transport(url: str, connections: int) -> httpx.AsyncBaseTransport:
    """:class:`IngestTransport`, or httpx's transport through the environment's proxy for
    ``url`` (``HTTPS_PROXY``, ``HTTP_PROXY``, ``ALL_PROXY``; ``NO_PROXY`` honoured)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    proxy = proxies.get(parts.scheme) or proxies.get("all")
    if proxy and not _bypassed(parts.hostname or "", proxies.get("no", "")):
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        return httpx.AsyncHTTPTransport(proxy=proxy, limits=limits)
    return IngestTransport(max_idle=connections)


def _bypassed(host: str, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` (``*``, or hosts and domain suffixes, comma-separated) covers
    ``host``."""
    for entry in no_proxy.split(","):
        name = entry.strip().lower()
        if name == "*":
            return True
        before, colon, port = name.rpartition(":")
        if colon and port.isdigit() and ":" not in before:  # host:port
            name = before
        name = name.lstrip(".")
        if name and (host == name or host.endswith("." + name)):
            return True
    return False
