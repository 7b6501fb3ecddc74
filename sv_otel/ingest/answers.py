"""The JSON bodies the ingest endpoint answers with, and the error name of each exception.

:mod:`sv_otel.ingest.endpoint` decides which answer a request gets; this module says how each
looks: an error is ``{"status": 413, "error": "payload_too_large", "message": ...}``
(:func:`error_answer`, named from :data:`ERROR_NAMES`), a queued batch is
``{"accepted": n, "rejected": m, "errors": [...]}`` (:func:`accepted`) and a batch with no valid
event is both at once (:func:`all_rejected`). ``errors`` lists at most 100 rejections
(``rejected`` counts them all).
"""

from __future__ import annotations

import msgspec

from sv_otel.batch import ParsedBatch
from sv_otel.errors import (
    AuthenticationError,
    InvalidBatchError,
    OverloadedError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueueFullError,
    RequestTimeoutError,
    SvOtelError,
    UnsupportedEncodingError,
    UnsupportedMediaTypeError,
)
from sv_otel.server.direct import Answer

__all__ = ["ERROR_NAMES", "accepted", "all_rejected", "error_answer"]

_MAX_ERRORS = 100
_ENCODER = msgspec.json.Encoder()

# (error name, metrics reason) by exception class, most specific first.
ERROR_NAMES: tuple[tuple[type[SvOtelError], str, str], ...] = (
    (PayloadTooLargeError, "payload_too_large", "too_large"),
    (UnsupportedEncodingError, "unsupported_encoding", "unsupported"),
    (UnsupportedMediaTypeError, "unsupported_media_type", "unsupported"),
    (RequestTimeoutError, "request_timeout", "timeout"),
    (InvalidBatchError, "bad_request", "bad_request"),
    (PermissionDeniedError, "forbidden", "forbidden"),
    (AuthenticationError, "unauthenticated", "unauthenticated"),
    (OverloadedError, "overloaded", "overloaded"),
    (QueueFullError, "queue_full", "queue_full"),
)
"""``(exception class, error name, metrics reason)``: the first class an error is an instance
of names it in the answer (``"error"``) and in the rejected-requests metric (``reason``)."""


def accepted(batch: ParsedBatch) -> dict[str, object]:
    """The 200 body: how many events were accepted and rejected, and the first rejections."""
    errors = [{"index": r.index, "message": r.message} for r in batch.rejected[:_MAX_ERRORS]]
    return {"accepted": len(batch.events), "rejected": len(batch.rejected), "errors": errors}


def all_rejected(batch: ParsedBatch) -> dict[str, object]:
    """The 400 body when every event of ``batch`` was rejected (it has at least one)."""
    rejected = len(batch.rejected)
    errors = [{"index": r.index, "message": r.message} for r in batch.rejected[:_MAX_ERRORS]]
    return {
        "status": 400,
        "error": "bad_request",
        "message": f"every event was rejected ({rejected}); first: {batch.rejected[0].message}",
        "accepted": 0,
        "rejected": rejected,
        "errors": errors,
    }


def error_answer(status: int, name: str, message: str, headers: dict[str, str]) -> Answer:
    """An error answer: ``{"status": ..., "error": name, "message": ...}`` with ``headers``."""
    payload = {"status": status, "error": name, "message": message}
    return Answer(status, _ENCODER.encode(payload), headers)
