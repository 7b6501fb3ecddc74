"""Environment variables read by sv_otel's linking plug-ins (see :mod:`sv_otel.linking.options`
and :mod:`sv_otel.linking.signed`).

They carry an ``SV_OTEL_`` prefix, not ``OTEL_``: they belong to sv_otel, not to the
OpenTelemetry specification.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "SV_OTEL_LINKING_REQUIRE_SIGNED",
    "SV_OTEL_LINKING_SESSION_LINK",
    "SV_OTEL_LINKING_TRUST_CLIENT_USER_ID",
    "SV_OTEL_LINKING_VENDOR_ALIASES",
    "SV_OTEL_SESSION_SECRET",
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

SV_OTEL_SESSION_SECRET: Final = "SV_OTEL_SESSION_SECRET"
"""
.. envvar:: SV_OTEL_SESSION_SECRET

The secret session tokens are signed with (the one the sv_otel server that issues them uses);
its UTF-8 bytes are the HMAC key, at least 16. When set, the session propagator verifies the
``X-Sessionvision-Session-Token`` header, and a verified token's session wins over every other
carrier. Default: not set, tokens are not read.
"""

SV_OTEL_LINKING_REQUIRE_SIGNED: Final = "SV_OTEL_LINKING_REQUIRE_SIGNED"
"""
.. envvar:: SV_OTEL_LINKING_REQUIRE_SIGNED

``true`` accepts only a session id vouched for by a verified session token: plain session
headers and baggage are ignored, and a request without a valid token gets no session. Needs
:envvar:`SV_OTEL_SESSION_SECRET` (without it no session is accepted at all). A value other than
``true`` or ``false`` counts as ``true``. Default: ``false``.
"""
