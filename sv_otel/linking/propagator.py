"""``SessionPropagator``: the browser session in, ``session.id`` baggage out.

Register it after ``baggage``, so it sees (and cleans) what the W3C propagator extracted:
``OTEL_PROPAGATORS=tracecontext,baggage,sessionvision``, or in code::

    from opentelemetry.propagate import set_global_textmap
    from opentelemetry.propagators.composite import CompositePropagator

    set_global_textmap(
        CompositePropagator(
            [TraceContextTextMapPropagator(), W3CBaggagePropagator(), SessionPropagator()]
        )
    )

**Extract** reads the carriers listed in :mod:`sv_otel.linking.carriers` by their precedence,
cleans every value (:mod:`sv_otel.linking.sanitise`), and puts a :class:`SessionIdentity` into
the returned context. It also makes the context's baggage entry ``session.id`` agree with the
chosen session: set to it, or removed when the incoming entry was rejected (or unsigned under
``require_signed``), so a hostile value is not forwarded. Nothing else from the baggage is
copied anywhere. Extract never raises: on an internal error it logs and returns the context it
was given.

**Inject** writes ``baggage`` for the next hop: the context's baggage entries plus
``session.id``, merged into a ``baggage`` value already in the carrier (when the carrier can be
read, as dicts, ``httpx.Headers`` and ``requests`` headers can) with no duplicate keys and every
foreign entry kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import opentelemetry.baggage as otel_baggage
from opentelemetry.context import Context, get_current
from opentelemetry.propagators.textmap import (
    CarrierT,
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)

from sv_otel.errors import ConfigurationError
from sv_otel.linking.baggage import merge_entry
from sv_otel.linking.carriers import (
    BAGGAGE_HEADER,
    BAGGAGE_SESSION_ID,
    TokenVerifier,
    read_identity,
)
from sv_otel.linking.identity import current_session, with_identity
from sv_otel.linking.signed import SigningOptions

__all__ = ["SessionPropagator"]

_logger = logging.getLogger(__name__)


class SessionPropagator(TextMapPropagator):
    """Extracts the browser session from a request; injects ``session.id`` baggage.

    Signed sessions (:mod:`sv_otel.linking.signed`): with a ``token_verifier`` (or the secret in
    ``SV_OTEL_SESSION_SECRET``), a valid ``X-Sessionvision-Session-Token`` wins over every other
    carrier; a missing or bad token falls back to the other carriers, unless signed sessions
    are required, in which case the request gets no session.

    Args:
        token_verifier: checks an ``X-Sessionvision-Session-Token`` and returns the session id
            it vouches for, or None (e.g. :func:`sv_otel.sessions.session_token_verifier`).
        secret: instead of ``token_verifier``: the secret tokens are signed with (``str``
            means its UTF-8 bytes, at least 16), checked by
            :func:`sv_otel.sessions.session_token_verifier`. With neither, the secret is read
            from ``SV_OTEL_SESSION_SECRET`` (unset: tokens are not read).
        require_signed: extract only a session id vouched for by a verified token; None reads
            ``SV_OTEL_LINKING_REQUIRE_SIGNED`` (default false).

    Raises:
        ConfigurationError: ``require_signed=True`` with neither a verifier nor a usable
            secret; both ``token_verifier`` and ``secret``; a ``token_verifier`` that is not
            callable; a ``secret`` shorter than 16 bytes.
    """

    def __init__(
        self,
        *,
        token_verifier: TokenVerifier | None = None,
        secret: bytes | str | None = None,
        require_signed: bool | None = None,
    ) -> None:
        try:
            signing = SigningOptions.resolve(
                token_verifier=token_verifier, secret=secret, require_signed=require_signed
            )
        except ConfigurationError as error:
            raise ConfigurationError(f"SessionPropagator: {error.message}") from None
        self._signing = signing
        self._token_verifier = signing.token_verifier
        self._require_signed = signing.require_signed

    @property
    def signing(self) -> SigningOptions:
        """The signed-session options in force."""
        return self._signing

    def extract(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        getter: Getter[CarrierT] = default_getter,
    ) -> Context:
        """Return ``context`` (default: the current one) with the request's session identity."""
        if context is None:
            context = get_current()
        try:
            identity = read_identity(
                lambda name: getter.get(carrier, name),
                token_verifier=self._token_verifier,
                require_signed=self._require_signed,
            )
            if identity.session_id is None and current_session(context) is not None:
                return context  # an outer extract already identified this request
            extracted = with_identity(identity, context)
            forwarded = otel_baggage.get_baggage(BAGGAGE_SESSION_ID, extracted)
            if identity.session_id is not None:
                if forwarded != identity.session_id:
                    extracted = otel_baggage.set_baggage(
                        BAGGAGE_SESSION_ID, identity.session_id, extracted
                    )
            elif forwarded is not None:
                extracted = otel_baggage.remove_baggage(BAGGAGE_SESSION_ID, extracted)
        except Exception:
            _logger.exception("SessionPropagator.extract failed; the request has no session")
            return context
        return extracted

    def inject(
        self,
        carrier: CarrierT,
        context: Context | None = None,
        setter: Setter[CarrierT] = default_setter,
    ) -> None:
        """Write ``baggage`` with ``session.id`` into ``carrier`` for the next service."""
        try:
            identity = current_session(context)
            if identity is None or identity.session_id is None:
                return
            existing = _existing_baggage(carrier)
            if existing is None:
                existing = _serialise(otel_baggage.get_all(context))
            header = merge_entry(existing, BAGGAGE_SESSION_ID, identity.session_id)
            setter.set(carrier, BAGGAGE_HEADER, header)
        except Exception:
            _logger.exception("SessionPropagator.inject failed; no session baggage sent")

    @property
    def fields(self) -> set[str]:
        """The header ``inject`` writes."""
        return {BAGGAGE_HEADER}


def _existing_baggage(carrier: object) -> str | None:
    """The ``baggage`` value already in a readable carrier (joined if sent twice), or None."""
    if not isinstance(carrier, Mapping):
        return None
    value = carrier.get(BAGGAGE_HEADER)
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    return None


def _serialise(entries: Mapping[str, object]) -> str:
    """A ``baggage`` value for ``entries`` (as the W3C baggage propagator writes them)."""
    items = [(key, value) for key, value in entries.items() if isinstance(value, str)]
    return ",".join(merge_entry(None, key, value) for key, value in items)
