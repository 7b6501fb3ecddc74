"""Reading the request's session identity, and its cached attributes."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.context import Context

import sv_otel
from sv_otel.linking import LinkingOptions, SessionIdentity
from sv_otel.linking.identity import with_identity


def test_current_session() -> None:
    identity = SessionIdentity("s1")
    assert sv_otel.current_session(with_identity(identity, Context())) is identity
    assert sv_otel.current_session(Context()) is None
    token = otel_context.attach(with_identity(identity))
    try:
        assert sv_otel.current_session() is identity
    finally:
        otel_context.detach(token)


def test_attributes_are_cached_per_options_and_renewed_by_a_bind() -> None:
    identity = SessionIdentity("s1", anonymous_id="a1")
    options = LinkingOptions.resolve(environ={})
    first = identity.attributes(options)
    assert first == {"session.id": "s1", "enduser.pseudo.id": "a1"}
    assert identity.attributes(options) is first
    assert identity.attributes(LinkingOptions.resolve(environ={})) is first  # interned
    identity.bind("u1")
    assert identity.attributes(options) == {
        "session.id": "s1",
        "enduser.pseudo.id": "a1",
        "user.id": "u1",
    }
    aliased = LinkingOptions.resolve(vendor_aliases=["posthog"], environ={})
    assert identity.attributes(aliased)["sessionId"] == "s1"
