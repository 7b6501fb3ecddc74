"""The mapping table between sessionvision fields and OpenTelemetry attributes.

This module is the single source of truth for attribute keys; every translator and processor
imports its keys from here. The table:

=================================  ===========================================
sessionvision                      OpenTelemetry
=================================  ===========================================
``sessionId``                      ``session.id``
``userId``                         ``user.id``
``anonymousId``                    ``enduser.pseudo.id``
``$current_url``                   ``url.full``
``$browser``                       ``user_agent.name``
``$os``                            ``user_agent.os.name``
other ``$name`` properties         ``sessionvision.name``
other properties                   the same key
=================================  ===========================================

**The escape rule.** A property whose key would land on a key that the table already uses -- one
of the OTel keys above, any key starting with ``sessionvision.``, or the empty key -- is written as
``sessionvision.property.<key>`` (so a custom ``url.full`` cannot overwrite ``$current_url``).
``$`` properties whose name starts with ``property.`` are escaped the same way, so the
``sessionvision.property.`` namespace is never reached by the ``$`` rule. Reading back inverts this
exactly: :func:`property_key` of :func:`attribute_key` is the identity for every string.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from opentelemetry.semconv._incubating.attributes.enduser_attributes import ENDUSER_PSEUDO_ID
from opentelemetry.semconv._incubating.attributes.session_attributes import (
    SESSION_ID,
    SESSION_PREVIOUS_ID,
)
from opentelemetry.semconv._incubating.attributes.user_agent_attributes import (
    USER_AGENT_NAME,
    USER_AGENT_OS_NAME,
)
from opentelemetry.semconv._incubating.attributes.user_attributes import USER_ID
from opentelemetry.semconv.attributes.service_attributes import SERVICE_NAME
from opentelemetry.semconv.attributes.url_attributes import URL_FULL

__all__ = [
    "CLIENT_USER_ID",
    "ENDUSER_PSEUDO_ID",
    "ESCAPE_PREFIX",
    "EVENT_FIELD_ATTRIBUTES",
    "HIGHLIGHT_SESSION_ID",
    "POSTHOG_SESSION_ID",
    "PROPERTY_ATTRIBUTES",
    "SCOPE_NAME",
    "SERVICE_NAME",
    "SESSIONVISION_PREFIX",
    "SESSION_ID",
    "SESSION_PREVIOUS_ID",
    "URL_FULL",
    "USER_AGENT_NAME",
    "USER_AGENT_OS_NAME",
    "USER_ID",
    "attribute_key",
    "property_key",
]

SCOPE_NAME: Final = "sessionvision"
"""Instrumentation scope name of every log record and span that sv_otel makes from events.

Records in this scope are read back as the exact events they came from; records in any other
scope are backend telemetry (see :mod:`sv_otel.translate.backend`)."""

SESSIONVISION_PREFIX: Final = "sessionvision."
"""Namespace of the SDK's automatic ``$`` properties that have no semantic convention."""

ESCAPE_PREFIX: Final = "sessionvision.property."
"""Namespace of custom properties whose own key would collide with a mapped key."""

EVENT_FIELD_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType(
    {"sessionId": SESSION_ID, "userId": USER_ID, "anonymousId": ENDUSER_PSEUDO_ID}
)
"""Top-level event fields (wire names) and the attribute each becomes."""

PROPERTY_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType(
    {"$current_url": URL_FULL, "$browser": USER_AGENT_NAME, "$os": USER_AGENT_OS_NAME}
)
"""Automatic properties that have a semantic convention, and that convention's key."""

# Linking backend telemetry to browser sessions (sv_otel.linking). ``session.id``,
# ``enduser.pseudo.id`` (the browser's anonymous id) and ``user.id`` (the user the *server*
# authenticated) are the semantic-convention keys above; these are the rest.

CLIENT_USER_ID: Final = "sessionvision.client.user.id"
"""The user id a browser *asserted* (a request header or a ``user.id`` baggage entry).

It is not authenticated, so it never lands on ``user.id`` unless the application opts in;
``user.id`` is for the user the server authenticated itself (:func:`sv_otel.bind_user`)."""

HIGHLIGHT_SESSION_ID: Final = "highlight.session_id"
"""Vendor alias of ``session.id`` read by Highlight's OTLP ingest (optional)."""

POSTHOG_SESSION_ID: Final = "sessionId"
"""Vendor alias of ``session.id`` PostHog links OTLP logs to replays by (optional)."""

_PROPERTY_FOR_ATTRIBUTE: Final = {v: k for k, v in PROPERTY_ATTRIBUTES.items()}
_RESERVED: Final = frozenset({"", *EVENT_FIELD_ATTRIBUTES.values(), *PROPERTY_ATTRIBUTES.values()})


def attribute_key(key: str) -> str:
    """Return the OTel attribute key for the event property ``key`` (see the escape rule)."""
    mapped = PROPERTY_ATTRIBUTES.get(key)
    if mapped is not None:
        return mapped
    if key.startswith("$"):
        if key.startswith("$property."):
            return ESCAPE_PREFIX + key
        return SESSIONVISION_PREFIX + key[1:]
    if key in _RESERVED or key.startswith(SESSIONVISION_PREFIX):
        return ESCAPE_PREFIX + key
    return key


def property_key(key: str) -> str:
    """Return the property key for the attribute ``key``, the inverse of :func:`attribute_key`.

    The event-level keys (``session.id``, ``user.id``, ``enduser.pseudo.id``) are not properties;
    callers handle them before asking.
    """
    mapped = _PROPERTY_FOR_ATTRIBUTE.get(key)
    if mapped is not None:
        return mapped
    if key.startswith(SESSIONVISION_PREFIX):
        if key.startswith(ESCAPE_PREFIX):
            return key[len(ESCAPE_PREFIX) :]
        return "$" + key[len(SESSIONVISION_PREFIX) :]
    return key
