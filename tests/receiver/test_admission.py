"""InFlightBytes: the budget of bytes a transport's requests hold at once."""

from __future__ import annotations

import pytest

from sv_otel.errors import OverloadedError
from sv_otel.receiver.admission import InFlightBytes


def test_requests_share_the_budget_and_give_it_back() -> None:
    budget = InFlightBytes(100, retry_after=2.0)
    with budget.hold() as first:
        first.take(60)
        with budget.hold() as second:
            second.take(40)  # exactly the budget
            assert budget.used == 100
            with budget.hold() as third, pytest.raises(OverloadedError) as refused:
                third.take(1)
            assert budget.used == 100  # the refused bytes were never counted
        assert budget.used == 60
    assert budget.used == 0
    assert refused.value.message == (
        "receiver: 100 bytes of requests in flight, the limit is 100; retry later"
    )
    assert refused.value.retry_after == 2.0


def test_a_lone_request_of_any_size_is_admitted() -> None:
    budget = InFlightBytes(100)
    with budget.hold() as alone:
        alone.take(80)
        alone.take(500)  # its own decompressed body, say: nothing else is in flight
        assert budget.used == 580
        with budget.hold() as other, pytest.raises(OverloadedError):
            other.take(1)
    assert budget.used == 0


def test_a_request_that_fails_gives_its_bytes_back() -> None:
    budget = InFlightBytes(100)
    with pytest.raises(ValueError), budget.hold() as hold:
        hold.take(70)
        raise ValueError("conversion failed")
    assert budget.used == 0
    with budget.hold() as hold:
        hold.take(100)
    assert budget.used == 0
