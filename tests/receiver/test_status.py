"""Failures mapped to HTTP statuses, gRPC codes, Status bodies and trailers."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.rpc.error_details_pb2 import BadRequest, RetryInfo
from google.rpc.status_pb2 import Status

from sv_otel.errors import (
    AuthenticationError,
    InvalidBatchError,
    InvalidOTLPError,
    PayloadTooLargeError,
    QueueFullError,
    RetryableExportError,
    UnsupportedEncodingError,
)
from sv_otel.otlp_json import decode_json
from sv_otel.receiver.status import (
    GRPC_STATUS_DETAILS_KEY,
    RETRY_INFO_KEY,
    encode_status,
    failure_for,
    grpc_trailers,
    retry_after_header,
    to_status,
)


@pytest.mark.parametrize(
    ("error", "http", "code", "outcome"),
    [
        (InvalidOTLPError("body: x"), 400, grpc.StatusCode.INVALID_ARGUMENT, "invalid"),
        (InvalidBatchError("body: bad gzip"), 400, grpc.StatusCode.INVALID_ARGUMENT, "invalid"),
        (UnsupportedEncodingError("e"), 400, grpc.StatusCode.INVALID_ARGUMENT, "invalid"),
        (PayloadTooLargeError("big"), 413, grpc.StatusCode.RESOURCE_EXHAUSTED, "too_large"),
        (AuthenticationError("who"), 401, grpc.StatusCode.UNAUTHENTICATED, "unauthenticated"),
        (QueueFullError("full", retry_after=2.5), 503, grpc.StatusCode.UNAVAILABLE, "throttled"),
        (RetryableExportError("down"), 503, grpc.StatusCode.UNAVAILABLE, "throttled"),
    ],
)
def test_failure_for_known_errors(
    error: Exception, http: int, code: grpc.StatusCode, outcome: str
) -> None:
    failure = failure_for(error)
    assert (failure.http_status, failure.grpc_code, failure.outcome) == (http, code, outcome)
    assert failure.message == str(error)


def test_unexpected_errors_are_logged_and_hidden(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="sv_otel.receiver.status"):
        failure = failure_for(KeyError("secret detail"))
    assert (failure.http_status, failure.grpc_code) == (500, grpc.StatusCode.INTERNAL)
    assert failure.message == "internal error; see the receiver's log"
    assert "secret detail" in caplog.text


def test_bad_request_status_names_the_field() -> None:
    failure = failure_for(InvalidOTLPError("resourceLogs[0].scopeLogs: expected array, got 1"))
    status = to_status(failure)
    assert (status.code, status.message) == (3, failure.message)
    details = BadRequest()
    assert status.details[0].Unpack(details)
    [violation] = details.field_violations
    assert (violation.field, violation.description) == (
        "resourceLogs[0].scopeLogs",
        failure.message,
    )


def test_throttling_status_carries_retry_info_in_both_trailers() -> None:
    failure = failure_for(QueueFullError("queue full", retry_after=1.5))
    trailers = dict(grpc_trailers(failure))
    status = Status.FromString(trailers[GRPC_STATUS_DETAILS_KEY])
    assert (status.code, status.message) == (14, "queue full")
    from_details = RetryInfo()
    assert status.details[0].Unpack(from_details)
    alone = RetryInfo.FromString(trailers[RETRY_INFO_KEY])
    assert from_details == alone
    assert (alone.retry_delay.seconds, alone.retry_delay.nanos) == (1, 500_000_000)


def test_trailers_without_retry_have_only_the_status() -> None:
    trailers = dict(grpc_trailers(failure_for(InvalidOTLPError("x"))))
    assert set(trailers) == {GRPC_STATUS_DETAILS_KEY}


def test_status_body_in_both_encodings() -> None:
    failure = failure_for(PayloadTooLargeError("body: too big"))
    assert Status.FromString(encode_status(failure, json=False)) == to_status(failure)
    assert decode_json(encode_status(failure, json=True), Status) == to_status(failure)
    assert encode_status(failure, json=True) == b'{"code":8,"message":"body: too big"}'


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (2.2, "3"), (0, "1")])
def test_retry_after_header_is_whole_seconds_rounded_up(seconds: float, header: str) -> None:
    assert retry_after_header(seconds) == header
