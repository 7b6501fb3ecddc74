"""Signed sessions: which session tokens the propagator trusts, from arguments or the environment.

=====================================  ===========================================================
``SV_OTEL_SESSION_SECRET``             the secret session tokens are signed with (the one the
                                       sv_otel server that issues them uses), as text: its UTF-8
                                       bytes are the HMAC key, at least 16 of them (32 random
                                       bytes recommended: ``python -c "import secrets;
                                       print(secrets.token_urlsafe(32))"``)
``SV_OTEL_LINKING_REQUIRE_SIGNED``     ``true``: accept only a session id vouched for by a
                                       verified token (default ``false``)
=====================================  ===========================================================

Precedence is the OTel SDK's: an argument, then the environment variable, then the default (no
verification, nothing required).

With a secret, :class:`~sv_otel.linking.SessionPropagator` verifies the
``X-Sessionvision-Session-Token`` header (:func:`sv_otel.sessions.token.verify_session_token`:
HMAC-SHA256, constant-time comparison, expiry) and a verified token's session wins over every
other carrier. What happens to a token that does not verify (expired, forged, signed with
another secret, malformed) or is missing depends on ``require_signed``:

* without it, the token is ignored and the other carriers are read by their precedence
  (:mod:`sv_otel.linking.carriers`), as if it had not been sent;
* with it, no session is accepted from that request: the plain session headers, ``baggage``
  ``session.id`` and the vendors' carriers are ignored, so nothing is stamped, and an incoming
  ``baggage`` ``session.id`` is not forwarded. The browser's anonymous and user ids are still
  read (they are not session ids, and a user id is never trusted as ``user.id``).

Misconfiguration in arguments fails fast with :class:`~sv_otel.errors.ConfigurationError`. In
the environment it is logged and fails closed: a secret shorter than 16 bytes is not used (an
error is logged); a ``SV_OTEL_LINKING_REQUIRE_SIGNED`` value other than ``true`` / ``false``
counts as ``true`` (with a warning); and signed sessions required without a usable secret make
the propagator accept no session at all (with an error), never unsigned ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass

from sv_otel.errors import ConfigurationError
from sv_otel.linking.carriers import TokenVerifier
from sv_otel.linking.environment_variables import (
    SV_OTEL_LINKING_REQUIRE_SIGNED,
    SV_OTEL_SESSION_SECRET,
)
from sv_otel.linking.options import env_flag
from sv_otel.sessions.token import session_token_verifier

__all__ = ["SigningOptions", "reject_every_token"]

_logger = logging.getLogger(__name__)


def reject_every_token(token: str) -> str | None:
    """A token verifier that verifies nothing (signed sessions required, no usable secret)."""
    return None


@dataclass(frozen=True, slots=True)
class SigningOptions:
    """How the propagator treats signed session tokens (see the module docstring).

    Attributes:
        token_verifier: returns the session id a token vouches for, or None; None when tokens
            are not checked.
        require_signed: accept only a session id from a verified token.
    """

    token_verifier: TokenVerifier | None = None
    require_signed: bool = False

    @classmethod
    def resolve(
        cls,
        *,
        token_verifier: TokenVerifier | None = None,
        secret: bytes | str | None = None,
        require_signed: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> SigningOptions:
        """Return the options from the arguments, falling back to the environment for each None.

        Args:
            token_verifier: a verifier of your own; excludes ``secret``.
            secret: the signing secret (``str`` means its UTF-8 bytes), at least 16 bytes.
            require_signed: accept only verified sessions.
            environ: the environment; default ``os.environ``.

        Raises:
            ConfigurationError: both ``token_verifier`` and ``secret``; a ``secret`` that is
                too short or not bytes or text; ``token_verifier`` not callable;
                ``require_signed=True`` with neither a verifier nor a usable secret anywhere.
        """
        env = os.environ if environ is None else environ
        if token_verifier is not None and secret is not None:
            raise ConfigurationError("pass a token_verifier or a session secret, not both")
        if token_verifier is not None and not callable(token_verifier):
            raise ConfigurationError(f"token_verifier must be callable, got {token_verifier!r}")
        if secret is not None:
            token_verifier = session_token_verifier(_secret_bytes(secret))
        elif token_verifier is None:
            token_verifier = _env_verifier(env)
        required = (
            env_flag(
                env,
                SV_OTEL_LINKING_REQUIRE_SIGNED,
                invalid=True,
                meaning="; signed sessions are required",
            )
            if require_signed is None
            else require_signed
        )
        if required and token_verifier is None:
            if require_signed:
                raise ConfigurationError(
                    "require_signed=True needs a token_verifier or a session secret "
                    f"(an argument or {SV_OTEL_SESSION_SECRET})"
                )
            _logger.error(
                "%s is true but no usable %s is set: no browser session is accepted",
                SV_OTEL_LINKING_REQUIRE_SIGNED,
                SV_OTEL_SESSION_SECRET,
            )
            token_verifier = reject_every_token
        return cls(token_verifier=token_verifier, require_signed=required)


def _secret_bytes(secret: bytes | str) -> bytes:
    if isinstance(secret, str):
        return secret.encode()
    if isinstance(secret, bytes):
        return secret
    raise ConfigurationError(
        f"the session secret must be bytes or text, got {type(secret).__name__}"
    )


def _env_verifier(environ: Mapping[str, str]) -> TokenVerifier | None:
    value = environ.get(SV_OTEL_SESSION_SECRET)
    if not value:
        return None
    try:
        return session_token_verifier(value.encode())
    except ConfigurationError as error:
        # Never log the value itself: it is a secret.
        _logger.error("Invalid value for %s: %s; it is not used", SV_OTEL_SESSION_SECRET, error)
        return None
