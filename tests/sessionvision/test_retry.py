"""The SDK's retry policy as pure functions (``Retry-After`` parsing is tested with
:mod:`sv_otel.exporter.retry`, where it lives)."""

from __future__ import annotations

import pytest

from sv_otel.sessionvision.retry import (
    DEFAULT_RETRY_DELAYS,
    MAX_RETRY_AFTER,
    Verdict,
    classify,
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


def test_retry_after_lengthens_the_scheduled_delay_and_is_capped() -> None:
    assert retry_delay(0, 7.0) == 7.0
    assert retry_delay(1, 0.0) == 2.0  # "retry now" is no reason for a tight loop
    assert retry_delay(2, 3.0) == 4.0
    assert retry_delay(0, 3600.0) == MAX_RETRY_AFTER
    assert retry_delay(3, 1.0) is None
