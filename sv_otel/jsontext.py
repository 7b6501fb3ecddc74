"""Reading JSON that browsers write: msgspec first, the standard library where msgspec is stricter.

msgspec refuses two things JSON allows and browsers send:

* a number out of the range of a float (``1e400``): read as ``inf``, for the validator to reject
  the one event holding it;
* a lone UTF-16 surrogate escape (``"\\ud83d"``), the half of an emoji that ``JSON.stringify``
  writes when a page cut a string in the middle of one: replaced by U+FFFD, as the browser's own
  ``TextEncoder`` does, so that the text can be written as UTF-8 anywhere downstream.

Anything else msgspec refuses is refused, with msgspec's reason.
"""

from __future__ import annotations

import json
import re
from typing import Final

import msgspec

from sv_otel.errors import InvalidBatchError
from sv_otel.event import JSONValue

__all__ = ["loads_json"]

_DECODER: Final = msgspec.json.Decoder()
_SURROGATE_ESCAPE: Final = re.compile(rb"\\u[dD][89a-fA-F]")
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def loads_json(data: bytes) -> JSONValue:
    """Decode one JSON document (UTF-8).

    Raises:
        InvalidBatchError: not JSON, invalid UTF-8, or nested too deeply; the message starts
            with ``body:`` and names the problem.
    """
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError:
        reason = None  # a number out of float range
    except msgspec.DecodeError as exc:
        reason = str(exc).removeprefix("JSON is malformed: ")
    except UnicodeDecodeError:
        raise InvalidBatchError(f"body: invalid UTF-8 at byte {_utf8_error_at(data)}") from None
    except RecursionError:
        raise InvalidBatchError("body: JSON nested too deeply") from None
    try:
        document = json.loads(data.decode(), parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidBatchError(f"body: not JSON ({reason or exc})") from None
    if _SURROGATE_ESCAPE.search(data) is None:
        return document
    try:
        return _replace_lone_surrogates(document)
    except RecursionError:
        raise InvalidBatchError("body: JSON nested too deeply") from None


def _replace_lone_surrogates(value: JSONValue) -> JSONValue:
    """``value`` with every lone surrogate of its strings and keys replaced by U+FFFD.

    ``json.loads`` has already joined each valid pair into one character, so any surrogate left
    is a lone one.
    """
    kind = type(value)
    if kind is str:
        return _LONE_SURROGATE.sub("\ufffd", value)
    if kind is list:
        return [_replace_lone_surrogates(item) for item in value]
    if kind is dict:
        return {
            _LONE_SURROGATE.sub("\ufffd", key): _replace_lone_surrogates(item)
            for key, item in value.items()
        }
    return value


def _utf8_error_at(data: bytes) -> int:
    try:
        data.decode()
    except UnicodeDecodeError as exc:
        return exc.start
    return 0


def _reject_constant(name: str) -> JSONValue:
    raise ValueError(f"{name} is not a JSON value")
