"""The exception hierarchy: one root, a status hint on each class, retry hints where they apply."""

from __future__ import annotations

import pytest

import sv_otel
from sv_otel.errors import (
    AuthenticationError,
    ConfigurationError,
    ExportError,
    InvalidBatchError,
    InvalidOTLPError,
    OverloadedError,
    PayloadTooLargeError,
    PermanentExportError,
    PermissionDeniedError,
    QueueFullError,
    RequestTimeoutError,
    RetryableExportError,
    SvOtelError,
    UnsupportedEncodingError,
    UnsupportedMediaTypeError,
    ValueTooDeepError,
)


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (InvalidBatchError("x"), 400),
        (PayloadTooLargeError("x"), 413),
        (UnsupportedEncodingError("x"), 415),
        (UnsupportedMediaTypeError("x"), 415),
        (RequestTimeoutError("x"), 408),
        (PermissionDeniedError("x"), 403),
        (OverloadedError("x"), 503),
        (InvalidOTLPError("x"), 400),
        (ValueTooDeepError("x"), 400),
        (AuthenticationError("x"), 401),
        (QueueFullError("x"), 503),
        (RetryableExportError("x"), 503),
        (PermanentExportError("x"), 502),
        (ConfigurationError("x"), 500),
    ],
)
def test_every_error_is_an_sv_otel_error_with_a_status_hint(
    error: SvOtelError, status: int
) -> None:
    assert isinstance(error, SvOtelError)
    assert error.status_hint == status
    assert error.message == "x" == str(error)


def test_export_errors_share_a_base_and_carry_the_destination_retry_hint() -> None:
    assert issubclass(RetryableExportError, ExportError)
    assert issubclass(PermanentExportError, ExportError)
    assert RetryableExportError("busy", retry_after=2.5).retry_after == 2.5
    assert RetryableExportError("down").retry_after is None


def test_queue_full_defaults_to_retry_after_one_second() -> None:
    assert QueueFullError("full").retry_after == 1.0
    assert QueueFullError("full", retry_after=7).retry_after == 7


def test_public_names_are_exported_sorted() -> None:
    assert list(sv_otel.__all__) == sorted(sv_otel.__all__)
    for name in sv_otel.__all__:
        assert hasattr(sv_otel, name), name
