"""Retry rules: the OTLP specification's retryable codes, Retry-After, RetryInfo, backoff."""

from __future__ import annotations

import random

import grpc
import pytest

from sv_otel.errors import PermanentExportError, RetryableExportError
from sv_otel.exporter.retry import (
    RetryPolicy,
    grpc_error,
    grpc_retry_delay,
    http_error,
    parse_retry_after,
)
from sv_otel.ingest.grpc import retry_trailers


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("Sun, 06 Nov 1994 08:49:37 GMT", 10.0),
        ("Sun, 06 Nov 1994 08:49:17 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-3", None),
        ("\u00b2", None),  # "²": isdigit(), but not a number float() reads
        ("\u0664", None),  # an Arabic-Indic four: digits are ASCII in HTTP
        ("Sun, 06 Nov 1994 08:49:37", None),  # a date without its zone
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, seconds: float | None) -> None:
    now = 784111767.0  # 1994-11-06 08:49:27 UTC
    assert parse_retry_after(value, now=now) == seconds


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (429, True),
        (502, True),
        (503, True),
        (504, True),
        (400, False),
        (401, False),
        (404, False),
        (413, False),
        (500, False),
    ],
)
def test_http_statuses_follow_the_specification(status: int, retryable: bool) -> None:
    error = http_error(status, "nope", "3")
    assert isinstance(error, RetryableExportError if retryable else PermanentExportError)
    assert error.message == f"HTTP {status}: nope"
    if retryable:
        assert isinstance(error, RetryableExportError)
        assert error.retry_after == 3.0


RETRYABLE = {
    "CANCELLED",
    "DEADLINE_EXCEEDED",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNAVAILABLE",
    "DATA_LOSS",
}


@pytest.mark.parametrize("code", [c for c in grpc.StatusCode if c != grpc.StatusCode.OK])
def test_grpc_codes_follow_the_specification(code: grpc.StatusCode) -> None:
    error = grpc_error(code, "why", None)
    expected = RetryableExportError if code.name in RETRYABLE else PermanentExportError
    assert isinstance(error, expected)
    assert error.message == f"gRPC {code.name}: why"


def test_resource_exhausted_is_retryable_only_with_retry_info() -> None:
    trailers = retry_trailers("slow down", 2.5)
    error = grpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "x", trailers)
    assert isinstance(error, RetryableExportError)
    assert error.retry_after == 2.5


@pytest.mark.parametrize("key", ["google.rpc.retryinfo-bin", "grpc-status-details-bin"])
def test_retry_info_is_read_from_either_trailer(key: str) -> None:
    trailers = [t for t in retry_trailers("x", 1.25) if t[0] == key]
    assert grpc_retry_delay(trailers) == 1.25
    assert grpc_retry_delay([(key, b"\xff\xff garbage")]) is None


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    policy = RetryPolicy(initial_interval=1.0, max_interval=5.0, multiplier=2.0, randomization=0.2)
    rng = random.Random(1)
    for attempt, base in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 5.0), (10, 5.0)]:
        delay = policy.delay(attempt, None, rng)
        assert base * 0.8 <= delay <= base * 1.2
    assert policy.delay(1, 42.0) == 42.0  # the destination's hint, when longer, wins
    assert policy.delay(1, 10_000.0) == 300.0  # up to a cap
    for hint in (0.0, -5.0, 1.0):  # "retry now" (or a date in the past) is no tight loop
        assert 3.2 <= policy.delay(3, hint, rng) <= 4.8


def test_gives_up_only_with_max_elapsed_time() -> None:
    assert not RetryPolicy().gives_up(10**6)
    assert RetryPolicy(max_elapsed_time=5).gives_up(5)
    assert not RetryPolicy(max_elapsed_time=5).gives_up(4.9)
