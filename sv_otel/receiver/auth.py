"""Bearer-token authentication, the same check for HTTP headers and gRPC metadata."""

from __future__ import annotations

import hmac

from sv_otel.errors import AuthenticationError

__all__ = ["check_bearer"]

_SCHEME = "bearer "


def check_bearer(authorization: str | None, token: str | None) -> None:
    """Check an ``Authorization`` value against the expected token (no check if ``token`` is None).

    The comparison takes the same time whatever the value, so the token cannot be guessed a
    character at a time.

    Raises:
        AuthenticationError: the header is missing, not a bearer token, or the wrong token.
    """
    if token is None:
        return
    if not authorization:
        raise AuthenticationError("authorization: missing; send 'Authorization: Bearer <token>'")
    if authorization[: len(_SCHEME)].lower() != _SCHEME:
        raise AuthenticationError("authorization: expected the Bearer scheme")
    given = authorization[len(_SCHEME) :].strip().encode("utf-8", "replace")
    if not hmac.compare_digest(given, token.encode()):
        raise AuthenticationError("authorization: invalid bearer token")
