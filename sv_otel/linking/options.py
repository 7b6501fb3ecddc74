"""What the session processors stamp besides ``session.id``, from arguments or the environment.

=========================================  =======================================================
``SV_OTEL_LINKING_SESSION_LINK``           ``true``: each request's local root span gets a span
                                           link to the session's trace (default ``false``)
``SV_OTEL_LINKING_VENDOR_ALIASES``         comma list of ``highlight`` (``highlight.session_id``)
                                           and ``posthog`` (``sessionId``) (default: none)
``SV_OTEL_LINKING_TRUST_CLIENT_USER_ID``   ``true``: the browser's user id goes to ``user.id``
                                           instead of ``sessionvision.client.user.id``, for
                                           apps behind a gateway that authenticates it
                                           (default ``false``)
=========================================  =======================================================

Precedence is the OTel SDK's: a constructor argument, then the environment variable, then the
default. A malformed variable logs a warning and falls back to the default; a bad argument raises
:class:`~sv_otel.errors.ConfigurationError`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from sv_otel.attributes import HIGHLIGHT_SESSION_ID, POSTHOG_SESSION_ID
from sv_otel.errors import ConfigurationError
from sv_otel.linking.environment_variables import (
    SV_OTEL_LINKING_SESSION_LINK,
    SV_OTEL_LINKING_TRUST_CLIENT_USER_ID,
    SV_OTEL_LINKING_VENDOR_ALIASES,
)

__all__ = ["VENDOR_ALIASES", "LinkingOptions", "env_flag"]

_logger = logging.getLogger(__name__)

VENDOR_ALIASES: Final[Mapping[str, str]] = {
    "highlight": HIGHLIGHT_SESSION_ID,
    "posthog": POSTHOG_SESSION_ID,
}
"""Vendor alias names and the attribute each stamps (holding the session id)."""


@dataclass(frozen=True, slots=True)
class LinkingOptions:
    """What is stamped, beyond ``session.id`` and the ids (see the module docstring).

    Attributes:
        session_link: add a span link from each request's local root span to the session's
            trace (:func:`sv_otel.ids.session_trace_id`).
        vendor_aliases: names from :data:`VENDOR_ALIASES`.
        trust_client_user_id: stamp the browser's user id as ``user.id``.
    """

    session_link: bool = False
    vendor_aliases: frozenset[str] = frozenset()
    trust_client_user_id: bool = False
    alias_keys: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.vendor_aliases) - VENDOR_ALIASES.keys())
        if unknown:
            raise ConfigurationError(
                f"vendor_aliases: unknown alias {unknown[0]!r} "
                f"(known: {', '.join(sorted(VENDOR_ALIASES))})"
            )
        keys = tuple(VENDOR_ALIASES[name] for name in sorted(self.vendor_aliases))
        object.__setattr__(self, "alias_keys", keys)

    @classmethod
    def resolve(
        cls,
        *,
        session_link: bool | None = None,
        vendor_aliases: Iterable[str] | None = None,
        trust_client_user_id: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> LinkingOptions:
        """Return options from the arguments, falling back to the environment for each None.

        Raises:
            ConfigurationError: an unknown vendor alias among the arguments.
        """
        env = os.environ if environ is None else environ
        if isinstance(vendor_aliases, str):
            raise ConfigurationError(
                f"vendor_aliases: expected a collection of names, got the string {vendor_aliases!r}"
            )
        options = cls(
            session_link=env_flag(env, SV_OTEL_LINKING_SESSION_LINK)
            if session_link is None
            else session_link,
            vendor_aliases=_env_aliases(env)
            if vendor_aliases is None
            else frozenset(vendor_aliases),
            trust_client_user_id=env_flag(env, SV_OTEL_LINKING_TRUST_CLIENT_USER_ID)
            if trust_client_user_id is None
            else trust_client_user_id,
        )
        # Equal options share one instance, so a request's cached stamp is found by identity.
        return _INTERNED.setdefault(options, options)


_INTERNED: Final[dict[LinkingOptions, LinkingOptions]] = {}


def env_flag(
    environ: Mapping[str, str], name: str, *, invalid: bool = False, meaning: str = ""
) -> bool:
    """Read a ``true`` / ``false`` environment variable (unset or empty: false).

    Another value logs a warning naming the variable (with ``meaning``, what it is taken to
    mean) and counts as ``invalid``.
    """
    value = environ.get(name)
    if value is None:
        return False
    match value.strip().lower():
        case "true":
            return True
        case "false" | "":
            return False
        case _:
            _logger.warning(
                "Invalid value for %s: %r (expected true or false)%s", name, value, meaning
            )
            return invalid


def _env_aliases(environ: Mapping[str, str]) -> frozenset[str]:
    names = set()
    for raw in environ.get(SV_OTEL_LINKING_VENDOR_ALIASES, "").split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name in VENDOR_ALIASES:
            names.add(name)
        else:
            _logger.warning(
                "Invalid value for %s: unknown alias %r ignored (known: %s)",
                SV_OTEL_LINKING_VENDOR_ALIASES,
                name,
                ", ".join(sorted(VENDOR_ALIASES)),
            )
    return frozenset(names)
