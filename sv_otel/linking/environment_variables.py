"""Environment variables read by sv_otel's linking plug-ins (see :mod:`sv_otel.linking.options`).

They carry an ``SV_OTEL_`` prefix, not ``OTEL_``: they belong to sv_otel, not to the
OpenTelemetry specification.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "SV_OTEL_LINKING_SESSION_LINK",
    "SV_OTEL_LINKING_TRUST_CLIENT_USER_ID",
    "SV_OTEL_LINKING_VENDOR_ALIASES",
]

SV_OTEL_LINKING_SESSION_LINK: Final = "SV_OTEL_LINKING_SESSION_LINK"
"""
.. envvar:: SV_OTEL_LINKING_SESSION_LINK

``true`` adds a span link from each request's local root span to the session's trace.
Default: ``false``.
"""

SV_OTEL_LINKING_VENDOR_ALIASES: Final = "SV_OTEL_LINKING_VENDOR_ALIASES"
"""
.. envvar:: SV_OTEL_LINKING_VENDOR_ALIASES

Comma-separated vendor aliases to stamp next to ``session.id``: ``highlight``
(``highlight.session_id``), ``posthog`` (``sessionId``). Default: none.
"""

SV_OTEL_LINKING_TRUST_CLIENT_USER_ID: Final = "SV_OTEL_LINKING_TRUST_CLIENT_USER_ID"
"""
.. envvar:: SV_OTEL_LINKING_TRUST_CLIENT_USER_ID

``true`` stamps the browser's user id as ``user.id`` (only for apps behind a gateway that
authenticates it). Default: ``false``: it goes to ``sessionvision.client.user.id``.
"""
