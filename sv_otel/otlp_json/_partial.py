"""What :func:`~sv_otel.otlp_json.decode_json_partial` leaves out, and how it counts it.

A log record or span nested deeper than :data:`~sv_otel.otlp_json.MAX_DEPTH` levels is left out
of the decoded request rather than failing it, and so is a scope or resource block nested that
deep in its own attributes, with all its records. The decoder's walker asks
:func:`may_leave_out` when an item of a repeated field fails; outside :func:`leaving_out` (plain
``decode_json``) the answer is always no.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Final

from sv_otel.otlp_json._path import FieldError
from sv_otel.otlp_json._plan import D_MIGRATE, MessagePlan

__all__ = ["leave_out_too_deep", "leaving_out", "may_leave_out"]

_RECORDS: Final = frozenset(
    ("opentelemetry.proto.logs.v1.LogRecord", "opentelemetry.proto.trace.v1.Span")
)
"""The records: what is counted when something is left out."""

_DROPPABLE: Final = _RECORDS | {
    "opentelemetry.proto.logs.v1.ScopeLogs",
    "opentelemetry.proto.logs.v1.ResourceLogs",
    "opentelemetry.proto.trace.v1.ScopeSpans",
    "opentelemetry.proto.trace.v1.ResourceSpans",
}
"""What is left out, with its records, when it nests too deep."""

_LEFT_OUT: ContextVar[list[int] | None] = ContextVar("sv_otel_otlp_json_left_out", default=None)


@contextmanager
def leaving_out() -> Iterator[list[int]]:
    """Within the block, leave out what nests too deep; the list gets each one's record count."""
    left_out: list[int] = []
    token = _LEFT_OUT.set(left_out)
    try:
        yield left_out
    finally:
        _LEFT_OUT.reset(token)


def may_leave_out(plan: MessagePlan, error: FieldError) -> list[int] | None:
    """The list to count into if an item of ``plan``'s type that failed with ``error`` is to be
    left out, else None (the error stands)."""
    left_out = _LEFT_OUT.get()
    if left_out is None or not error.too_deep or plan.descriptor.full_name not in _DROPPABLE:
        return None
    return left_out


def leave_out_too_deep(
    plan: MessagePlan,
    items: Sequence[object],
    out: list[dict[str, object]],
    left_out: list[int],
    decode: Callable[[object], dict[str, object]],
) -> list[dict[str, object]]:
    """Go on from the item at ``len(out)``, which nests too deep: leave out each that does, and
    note how many records it held."""
    for index in range(len(out), len(items)):
        try:
            out.append(decode(items[index]))
        except FieldError as err:
            if not err.too_deep:
                err.parts.append(index)
                raise
            left_out.append(_records_in(plan, items[index]))
    return out


def _records_in(plan: MessagePlan, obj: object) -> int:
    """The records (log records or spans) of a resource or scope block, or 1 for a record.

    A deprecated ``instrumentationLibrary*`` array counts only where the ``scope*`` array is
    empty or absent, as the decoder reads it.
    """
    if plan.descriptor.full_name in _RECORDS:
        return 1
    if type(obj) is not dict:
        return 0
    current = migrated = 0
    for key, value in obj.items():
        entry = plan.decode_fields.get(key)
        if entry is None or type(value) is not list:
            continue
        if entry.plan.descriptor.full_name not in _DROPPABLE:
            continue
        count = sum(_records_in(entry.plan, item) for item in value)
        if entry.kind == D_MIGRATE:
            migrated += count
        else:
            current += count
    return current or migrated
