"""Reading the JSON text: fast with msgspec, again with exact numbers only where that matters.

msgspec turns every number with a fraction or an exponent into a ``float`` and the literal ``-0``
into the integer ``0``, and refuses numbers beyond ``float`` (``1e400``) or of more than 4300
digits. That is right for nearly every body, and fast. Where it is not:

* a ``float`` reaches an integer field (``"timeUnixNano": 1544712660300000001.0`` would silently
  become ``...000``, and ``1.0000000000000001`` would pass for the integer 1);
* an integer ``0`` reaches a double field and the body holds a ``-0`` literal (Go's encoders,
  the Collector's among them, write negative zero so);
* msgspec refuses a number, which may sit in an unknown field that must be ignored;

:func:`read` parses the text again with :func:`json.loads` (non-integers as
:class:`~decimal.Decimal`, ``-0`` as ``Decimal("-0")``, huge integers as ``Decimal``) and converts
that instead. The converters signal the first two cases through :func:`inexact_float` and
:func:`integer_zero`, which do nothing outside :func:`read`: ``decode_json_dict`` takes the
numbers its caller parsed as they are (a ``float`` by its shortest text, ``1e23`` as 10**23).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from contextvars import ContextVar
from decimal import Decimal
from typing import TypeVar

import msgspec

from sv_otel.errors import InvalidOTLPError

__all__ = ["inexact_float", "integer_zero", "read"]

T = TypeVar("T")

_json_decode = msgspec.json.Decoder().decode
_MSGSPEC_POSITION = re.compile(r"(.*) \(byte ([0-9]+)\)\Z")
# A "-0" number (not "-0.5", "-01" or "-0e1") after ':', ',', '[' or white space; the literal
# prefix keeps the scan fast. A match inside a string only costs the exact second parse.
_NEGATIVE_ZERO = re.compile(r"-0(?![.eE0-9])(?<=[:,\[\s]-0)")
_NEGATIVE_ZERO_BYTES = re.compile(_NEGATIVE_ZERO.pattern.encode())
# An escaped high surrogate not followed by an escaped low one (msgspec reports "truncated").
_LONE_SURROGATE = re.compile(rb"(?<!\\)(?:\\\\)*\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])")


class _Body:
    """The text being converted by the first pass of :func:`read`."""

    __slots__ = ("data", "negative_zero")

    def __init__(self, data: bytes | str) -> None:
        self.data = data
        self.negative_zero: bool | None = None  # does it hold a -0 literal? (scanned on demand)


class _NeedsExactNumbers(Exception):
    """A number's exact JSON text matters here: convert the exact parse instead."""


_FIRST_PASS: ContextVar[_Body | None] = ContextVar("sv_otel_otlp_json_first_pass", default=None)


def inexact_float() -> None:
    """Call where a ``float`` reaches an integer field: in :func:`read`'s first pass it may be
    the rounded form of its JSON text, so the conversion starts again with exact numbers."""
    if _FIRST_PASS.get() is not None:
        raise _NeedsExactNumbers


def integer_zero() -> None:
    """Call where an integer ``0`` reaches a double field: in :func:`read`'s first pass it may
    have been written ``-0``, so if the text holds such a literal, start again exactly."""
    body = _FIRST_PASS.get()
    if body is None:
        return
    if body.negative_zero is None:
        data = body.data
        if isinstance(data, str):
            body.negative_zero = _NEGATIVE_ZERO.search(data) is not None
        else:
            body.negative_zero = _NEGATIVE_ZERO_BYTES.search(data) is not None
    if body.negative_zero:
        raise _NeedsExactNumbers


def read(data: bytes | str, convert: Callable[[object], T]) -> T:
    """Parse JSON text and return ``convert`` of it, with exact numbers where they matter.

    Args:
        data: UTF-8 JSON text, or a string.
        convert: Turns the parsed JSON into the result; raises ``InvalidOTLPError`` on bad data.

    Raises:
        InvalidOTLPError: The text is not JSON (``body: not JSON (...)``), or ``convert``'s.
    """
    try:
        obj = _json_decode(data)
    except msgspec.ValidationError as err:  # a number out of msgspec's range
        if "out of range" not in str(err):  # pragma: no cover - untyped decoding has no others
            raise _not_json(str(err), data) from None
        return convert(_exact(data))
    except msgspec.DecodeError as err:
        raise _not_json(str(err), data) from None
    except UnicodeEncodeError as err:  # a str with a lone surrogate cannot become UTF-8
        where = f"lone surrogate character at index {err.start}"
        raise InvalidOTLPError(f"body: not JSON ({where})") from None
    except UnicodeError:
        raise InvalidOTLPError("body: not JSON (invalid UTF-8)") from None
    except RecursionError:
        raise InvalidOTLPError("body: not JSON (nested too deeply)") from None
    token = _FIRST_PASS.set(_Body(data))
    try:
        return convert(obj)
    except _NeedsExactNumbers:
        pass
    finally:
        _FIRST_PASS.reset(token)
    return convert(_exact(data))


def _not_json(text: str, data: bytes | str) -> InvalidOTLPError:
    text = text.removeprefix("JSON is malformed: ")
    if text == "Input data was truncated":  # also what msgspec says of an unpaired "\ud800"
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
        lone = _LONE_SURROGATE.search(raw)
        if lone is not None:
            escape, at = lone[0][-6:].decode(), lone.end() - 6
            text = f"unpaired UTF-16 surrogate escape {escape} at byte {at}"
    text = _MSGSPEC_POSITION.sub(r"\1 at byte \2", text)
    return InvalidOTLPError(f"body: not JSON ({text[:1].lower()}{text[1:]})")


def _exact_int(text: str) -> object:
    if text == "-0":
        return Decimal(text)
    try:
        return int(text)
    except ValueError:  # over 4300 digits: keep it exact without building the int
        return Decimal(text)


def _no_constant(name: str) -> object:
    raise ValueError(name)


def _exact(data: bytes | str) -> object:
    """Parse ``data`` with non-integers, ``-0`` and huge integers as ``Decimal``."""
    try:
        return json.loads(
            data,
            parse_float=Decimal,
            parse_int=_exact_int,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as err:
        at = len(err.doc[: err.pos].encode("utf-8", "surrogatepass"))
        raise InvalidOTLPError(f"body: not JSON ({err.msg.lower()} at byte {at})") from None
    except UnicodeError:
        raise InvalidOTLPError("body: not JSON (invalid UTF-8)") from None
    except RecursionError:
        raise InvalidOTLPError("body: not JSON (nested too deeply)") from None
    except ValueError as err:  # parse_constant: NaN, Infinity, -Infinity are not JSON
        raise InvalidOTLPError(f"body: not JSON (invalid literal {err})") from None
