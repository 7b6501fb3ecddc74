"""The SDK's retry policy as pure functions."""

from __future__ import annotations

import pytest

from sv_otel.sessionvision.retry import (
    DEFAULT_RETRY_DELAYS,
    MAX_RETRY_AFTER,
    Verdict,
    classify,
    parse_retry_after,
    retry_delay,
)


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.DELIVERED),
        (202, Verdict.DELIVERED),
        (204, Verdict.DELIVERED),
        (500, Verdict.RETRY),
        (502, Verdict.RETRY),
        (503, Verdict.RETRY),
        (504, Verdict.RETRY),
        (429, Verdict.THROTTLED),
        (301, Verdict.REJECTED),
        (400, Verdict.REJECTED),
        (401, Verdict.REJECTED),
        (413, Verdict.REJECTED),
    ],
)
def test_classify(status: int, verdict: Verdict) -> None:
    assert classify(status) is verdict


def test_the_sdk_schedule_then_stop() -> None:
    assert DEFAULT_RETRY_DELAYS == (1.0, 2.0, 4.0)
    assert [retry_delay(n, None) for n in range(4)] == [1.0, 2.0, 4.0, None]


def test_retry_after_replaces_the_scheduled_delay_and_is_capped() -> None:
    assert retry_delay(0, 7.0) == 7.0
    assert retry_delay(1, 0.0) == 0.0
    assert retry_delay(0, 3600.0) == MAX_RETRY_AFTER
    assert retry_delay(3, 1.0) is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("5", 5.0),
        (" 0 ", 0.0),
        ("Wed, 21 Oct 2015 07:28:10 GMT", 10.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # in the past
        ("soon", None),
        ("-3", None),
        ("Wed, 21 Oct 2015 07:28:10", None),  # no zone
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    now = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT
    assert parse_retry_after(header, now) == seconds
