"""Lenient JSON reading: what msgspec refuses but browsers send, and what stays refused."""

from __future__ import annotations

import math

import pytest

from sv_otel.errors import InvalidBatchError
from sv_otel.jsontext import loads_json


def test_what_msgspec_reads_is_read_by_msgspec() -> None:
    assert loads_json(b'{"a": [1, 2.5, "x\\u00e9", null, true]}') == {
        "a": [1, 2.5, "x\u00e9", None, True]
    }


def test_a_number_out_of_float_range_reads_as_infinity() -> None:
    value = loads_json(b'{"n": 1e400, "m": -1e400}')
    assert value == {"n": math.inf, "m": -math.inf}


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b'"a\\ud83d"', "a\ufffd"),
        (b'{"\\udc00k": ["\\ud800", "\\ud83d\\ude00"]}', {"\ufffdk": ["\ufffd", "\U0001f600"]}),
        (b'"\\\\ud800"', "\\ud800"),  # an escaped backslash, then the letters: no surrogate
    ],
)
def test_lone_surrogates_become_replacement_characters(data: bytes, value: object) -> None:
    assert loads_json(data) == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{", "body: not JSON (Input data was truncated)"),
        (b"[NaN]", "body: not JSON (invalid character (byte 1))"),
        (b'["caf\xe9"]', "body: invalid UTF-8 at byte 5"),
        (b"[" * 10_000 + b"]" * 10_000, "body: JSON nested too deeply"),
    ],
)
def test_what_is_not_json_stays_refused_with_msgspec_s_reason(data: bytes, message: str) -> None:
    with pytest.raises(InvalidBatchError) as caught:
        loads_json(data)
    assert caught.value.message == message
