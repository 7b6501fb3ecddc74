"""OpenReplay-style session start, without I/O: ``POST /api/v1/sessions/start``.

The request is the tracker's ``start()`` options as a JSON object (unknown keys are ignored; an
empty body is ``{}``):

.. code-block:: json

    {"userID": "jane@example.com", "metadata": {"plan": "pro"}, "forceNew": false,
     "sessionHash": "...", "sessionToken": "...", "userUUID": "..."}

and the answer is ``{"success": true, "sessionID", "sessionToken", "userUUID", "sessionHash"}``
(200) or ``{"success": false, "reason"}`` (4xx, the reason names the field and the problem).

Which session the answer names:

1. ``forceNew: true`` always starts a new session.
2. Else a ``sessionHash`` (another site's ``sessionHash``, a bare token, or OpenReplay's
   ``<page>&<token>``, URI-encoded or not) continues that session across sites. A malformed or
   forged hash is a failure (401); an expired one, or one whose session has ended, starts a new
   session.
3. Else the ``sessionToken`` the tracker kept from its last start (a page refresh) continues
   that session; if it does not verify, or its session has ended, a new session starts.

Continuing keeps the token (and so its expiry: a session cannot outlive ``ttl_seconds``).
``userUUID`` (the device id, kept by the browser) is echoed, or made when absent. Every success
yields one ``$start`` event for the pipeline: ``metadata`` entries become its properties (and so
session attributes, see :mod:`sv_otel.sessions.state`), ``userID`` its ``user.id``, ``userUUID``
its ``enduser.pseudo.id``, and ``$continued`` says whether an existing session was continued.
"""

from __future__ import annotations

import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from sv_otel.decompress import decompress_body
from sv_otel.errors import (
    InvalidBatchError,
    InvalidSessionRequestError,
    InvalidSessionTokenError,
    SvOtelError,
)
from sv_otel.event import Event, JSONValue
from sv_otel.jsontext import loads_json
from sv_otel.sessions.state import START_EVENT
from sv_otel.sessions.token import check_session_token, sign_session_token

__all__ = ["START_PATH", "SessionStarter", "StartRequest", "StartResult", "parse_start_request"]

START_PATH: Final = "/api/v1/sessions/start"

MAX_BODY_BYTES: Final = 64 * 1024
MAX_METADATA: Final = 50
MAX_KEY_CHARS: Final = 128
MAX_VALUE_CHARS: Final = 1024
MAX_USER_ID_CHARS: Final = 256
MAX_HASH_CHARS: Final = 2048


@dataclass(frozen=True, slots=True)
class StartRequest:
    """A validated start request (see the module docstring for the fields)."""

    user_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    force_new: bool = False
    session_hash: str | None = None
    session_token: str | None = None
    user_uuid: str | None = None


@dataclass(frozen=True, slots=True)
class StartResult:
    """The answer to one start request.

    Attributes:
        status: the HTTP status (200, or the failure's ``status_hint``).
        body: the JSON answer, ``{"success": true, ...}`` or ``{"success": false, "reason"}``.
        events: what to submit to the pipeline: the ``$start`` event, or nothing on failure.
    """

    status: int
    body: dict[str, JSONValue]
    events: list[Event]

    @classmethod
    def failure(cls, error: SvOtelError) -> StartResult:
        """The answer for ``error``: its status hint and ``{"success": false, "reason"}``."""
        return cls(error.status_hint, {"success": False, "reason": error.message}, [])


def parse_start_request(body: bytes, content_encoding: str | None = None) -> StartRequest:
    """Decode and validate a start request body (gzip is accepted).

    Raises:
        InvalidSessionRequestError: not a JSON object, or a field of the wrong type or size.
        PayloadTooLargeError: over 64 KiB after decompression (413).
        UnsupportedEncodingError: a ``Content-Encoding`` other than gzip/identity (415).
        InvalidBatchError: a corrupt gzip stream (400).
    """
    data = decompress_body(body, content_encoding, MAX_BODY_BYTES)
    if not data.strip():
        return StartRequest()  # start() without options
    try:
        raw = loads_json(data)
    except InvalidBatchError as error:
        raise InvalidSessionRequestError(error.message) from None
    if type(raw) is not dict:
        raise InvalidSessionRequestError(f"body: expected a JSON object, got {_kind(raw)}")
    user_id = _string(raw, "userID", MAX_USER_ID_CHARS) or None
    force_new = raw.get("forceNew")
    if force_new is not None and type(force_new) is not bool:
        raise InvalidSessionRequestError(f"forceNew: expected a boolean, got {_kind(force_new)}")
    user_uuid = _string(raw, "userUUID", 36).lower() or None
    if user_uuid is not None and not _is_uuid(user_uuid):
        raise InvalidSessionRequestError("userUUID: expected a UUID")
    return StartRequest(
        user_id=user_id,
        metadata=_metadata(raw.get("metadata")),
        force_new=bool(force_new),
        session_hash=_string(raw, "sessionHash", MAX_HASH_CHARS) or None,
        session_token=_string(raw, "sessionToken", MAX_HASH_CHARS) or None,
        user_uuid=user_uuid,
    )


class SessionStarter:
    """Answers start requests (see the module docstring).

    Args:
        secret: the token signing secret (at least 16 bytes).
        ttl_seconds: how long a session's token is valid, from the session's start (default
            24 hours, the default maximum session duration).
        has_ended: tells whether a session id has ended (e.g.
            ``SessionLifecycleProcessor.has_ended``); ended sessions are not continued.
        clock: epoch seconds (tests pass a fake clock).
        new_session_id: makes the id of a new session (default: a random UUID, which is also
            the session's trace id).
    """

    def __init__(
        self,
        *,
        secret: bytes,
        ttl_seconds: int = 24 * 3600,
        has_ended: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.time,
        new_session_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        sign_session_token("check", secret=secret, ttl_seconds=ttl_seconds)  # fail fast
        self._secret = secret
        self._ttl = ttl_seconds
        self._has_ended = has_ended or (lambda _: False)
        self._clock = clock
        self._new_id = new_session_id

    def handle(self, body: bytes, content_encoding: str | None = None) -> StartResult:
        """Answer one start request body; never raises for bad input."""
        try:
            request = parse_start_request(body, content_encoding)
            return self.start(request)
        except SvOtelError as error:
            return StartResult.failure(error)

    def start(self, request: StartRequest) -> StartResult:
        """Start or continue a session for a validated request.

        Raises:
            InvalidSessionTokenError: a malformed or forged ``sessionHash`` (401).
        """
        now = self._clock()
        continued = None if request.force_new else self._continued(request, now)
        if continued is None:
            session_id = self._new_id()
            token = sign_session_token(
                session_id, secret=self._secret, ttl_seconds=self._ttl, now=now
            )
        else:
            session_id, token = continued
        user_uuid = request.user_uuid or str(uuid.uuid4())
        props: dict[str, JSONValue] = dict(request.metadata)
        props["$continued"] = continued is not None
        event = Event(
            event=START_EVENT,
            timestamp=int(now * 1000),
            properties=props,
            anonymous_id=user_uuid,
            user_id=request.user_id,
            session_id=session_id,
        )
        body: dict[str, JSONValue] = {
            "success": True,
            "sessionID": session_id,
            "sessionToken": token,
            "userUUID": user_uuid,
            "sessionHash": token,
        }
        return StartResult(200, body, [event])

    def _continued(self, request: StartRequest, now: float) -> tuple[str, str] | None:
        """The (session id, token) to continue, or None for a new session."""
        if request.session_hash is not None:
            token = _token_of_hash(request.session_hash)
            try:
                session_id, _ = check_session_token(token, secret=self._secret, now=now)
            except InvalidSessionTokenError as error:
                if error.message == "expired":
                    return None
                raise InvalidSessionTokenError(f"sessionHash: {error.message}") from None
        elif request.session_token is not None:
            token = request.session_token
            try:
                session_id, _ = check_session_token(token, secret=self._secret, now=now)
            except InvalidSessionTokenError:
                return None  # a stale or foreign token from the browser's storage: start anew
        else:
            return None
        if self._has_ended(session_id):
            return None
        return session_id, token


def _token_of_hash(session_hash: str) -> str:
    """The token in a ``sessionHash``: bare, or OpenReplay's ``<page>&<token>``, URI-encoded."""
    text = urllib.parse.unquote(session_hash)
    page, sep, token = text.partition("&")
    return token if sep and page.isascii() and page.isdigit() else text


def _string(raw: dict[str, JSONValue], key: str, max_chars: int) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if type(value) is not str:
        raise InvalidSessionRequestError(f"{key}: expected a string, got {_kind(value)}")
    if len(value) > max_chars:
        raise InvalidSessionRequestError(f"{key}: longer than {max_chars} characters")
    return value


def _metadata(value: JSONValue) -> dict[str, str]:
    if value is None:
        return {}
    if type(value) is not dict:
        raise InvalidSessionRequestError(f"metadata: expected an object, got {_kind(value)}")
    if len(value) > MAX_METADATA:
        raise InvalidSessionRequestError(
            f"metadata: {len(value)} entries, over the limit of {MAX_METADATA}"
        )
    for key, item in value.items():
        if not key or key.startswith("$") or len(key) > MAX_KEY_CHARS:
            raise InvalidSessionRequestError(
                f"metadata: key {key[:MAX_KEY_CHARS]!r} must be 1 to {MAX_KEY_CHARS} characters "
                "and not start with $"
            )
        if type(item) is not str:
            raise InvalidSessionRequestError(
                f"metadata.{key}: expected a string, got {_kind(item)}"
            )
        if len(item) > MAX_VALUE_CHARS:
            raise InvalidSessionRequestError(
                f"metadata.{key}: longer than {MAX_VALUE_CHARS} characters"
            )
    return value


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


def _kind(value: JSONValue) -> str:
    if value is None:
        return "null"
    names = {str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    names.update({dict: "an object", list: "an array"})
    return names.get(type(value), type(value).__name__)
