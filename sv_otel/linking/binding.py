"""Bind the user the server authenticated to the current request (``user.id``).

The server calls :func:`bind_user` once it knows who the user is, typically in its auth
dependency or middleware::

    user = authenticate(request)
    sv_otel.bind_user(user.id)

From then on the request's spans and log records carry ``user.id``, and so do the request's
root span and the current span, which had started before. This is the only way to ``user.id``:
a user id the browser sends is client-asserted and goes to ``sessionvision.client.user.id``
(unless ``trust_client_user_id`` is set).
"""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.context import Context

from sv_otel.attributes import USER_ID
from sv_otel.errors import ConfigurationError
from sv_otel.linking.identity import current_session

__all__ = ["bind_user"]


def bind_user(user_id: str, *, context: Context | None = None) -> bool:
    """Bind the user the server authenticated to the current request.

    Spans started and log records emitted afterwards in the request carry ``user.id`` =
    ``user_id``; the request's root span and the current span get it at once.

    Args:
        user_id: the authenticated user's id (trusted: it comes from the server, so it is
            stamped as given).
        context: the request's context; default the current one.

    Returns:
        True if the request has a session identity (the propagator extracted it) and the user
        is bound for the rest of the request; False if there is none, in which case only the
        current span gets ``user.id``.

    Raises:
        ConfigurationError: ``user_id`` is not a non-empty string.
    """
    if type(user_id) is not str or not user_id:
        raise ConfigurationError(f"bind_user: expected a non-empty user id, got {user_id!r}")
    identity = current_session(context)
    current = trace.get_current_span(context)
    if identity is not None:
        identity.bind(user_id)
        root = identity.root_span()
        if root is not None and root is not current and root.is_recording():
            root.set_attribute(USER_ID, user_id)
    if current.is_recording():
        current.set_attribute(USER_ID, user_id)
    return identity is not None
