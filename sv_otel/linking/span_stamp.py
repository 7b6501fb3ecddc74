"""Write the session attributes onto a just-started SDK span, cheaply and exactly.

``Span.set_attributes`` re-validates every value (type checks against the ``Sequence`` and
``Mapping`` ABCs, string truncation) and takes two locks, which costs about 1.1 µs per attribute
on the benchmark machine, several times the rest of a processor's work for a whole span. The
session attributes need none of that work: their keys are sv_otel's own constants and their
values are strings that :mod:`sv_otel.linking.sanitise` has already bounded. So
:func:`stamp_span` writes them straight into the span's attribute storage when (and only when)
the span is exactly what OpenTelemetry's SDK makes and in the state where ``set_attributes``
would store them as given:

* the span is the SDK's concrete span class (``opentelemetry.sdk.trace._Span``, not a subclass)
  and has not ended (its attributes are not yet frozen);
* its attributes are a ``BoundedAttributes`` (from ``opentelemetry.attributes``), whose storage
  is a plain ``dict`` in this SDK (checked once, at import);
* there is room for all of them under the attribute count limit
  (``OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT``: nothing would be dropped), and no value is longer than
  the value length limit (``OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT``: nothing would be
  truncated); a key that is there already is moved to the end, as ``set_attributes`` moves it.

It takes no lock. It runs in ``on_start``, which the SDK calls from ``Span.start()`` inside
``Tracer.start_span``, before the span is returned to anyone, so no other thread can end the
span or set its attributes meanwhile; and ``dict.update`` with ``str`` keys and values runs in C
without releasing the GIL, so a reader never sees it half done.

Anything else (another SDK, a subclass, a span at its limits, an SDK whose internals have moved)
goes through the public ``span.set_attributes``. ``tests/linking/test_span_stamp.py`` exports
spans through both paths under several limits and requires them to be identical, and requires
the fast path to be taken for an ordinary span, so an SDK upgrade that changes these internals
fails the tests instead of silently changing (or slowing) what is stamped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk import trace as sdk_trace
from opentelemetry.trace import Span as ApiSpan

__all__ = ["SpanStamp", "stamp_span"]

_SDK_SPAN: Final[type[sdk_trace.Span]] = getattr(sdk_trace, "_Span", sdk_trace.Span)
"""The concrete class of the spans the SDK's tracer makes. If it has moved, ``Span``, which the
SDK never instantiates: the fast path is then never taken."""

_FAST_PATH: Final = type(getattr(BoundedAttributes(), "_dict", None)) is dict
"""Whether ``BoundedAttributes`` keeps its items in a plain ``dict``, where the fast path writes."""


@dataclass(frozen=True, slots=True)
class SpanStamp:
    """Attributes to stamp, with their count and the length of their longest value (precomputed).

    Attributes:
        attributes: string keys to string values, every value already cleaned.
        count: the number of attributes.
        longest: the length of the longest value (0 when there are none).
    """

    attributes: Mapping[str, str]
    count: int
    longest: int

    @classmethod
    def of(cls, attributes: Mapping[str, str]) -> SpanStamp:
        """The stamp of ``attributes``."""
        return cls(attributes, len(attributes), max(map(len, attributes.values()), default=0))


def stamp_span(span: ApiSpan, stamp: SpanStamp) -> bool:
    """Add ``stamp``'s attributes to a span that is starting, exactly as ``set_attributes`` would.

    Args:
        span: a span in its processors' ``on_start``.
        stamp: the attributes to add.

    Returns:
        True when they were written directly (the fast path), False when they went through
        ``set_attributes`` (or, on a span that is not recording, nowhere).
    """
    if type(span) is _SDK_SPAN and _FAST_PATH:
        try:
            attributes = span._attributes
            if type(attributes) is BoundedAttributes and not attributes._immutable:
                stored = attributes._dict
                size = len(stored)
                maxlen = attributes.maxlen
                max_value_len = attributes.max_value_len
                if (maxlen is None or size + stamp.count <= maxlen) and (
                    max_value_len is None or stamp.longest <= max_value_len
                ):
                    new = stamp.attributes
                    stored.update(new)
                    if len(stored) != size + stamp.count:
                        # Some keys were there already: set_attributes deletes and re-inserts
                        # each key, so every key of the stamp ends up last.
                        for key in new:
                            stored[key] = stored.pop(key)
                    return True
        except AttributeError:  # the SDK's internals have moved: use the public API
            pass
    span.set_attributes(stamp.attributes)
    return False
