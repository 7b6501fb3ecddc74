"""Hypothesis strategies for OTLP messages (logs, traces, metrics) and for JSON-shaped junk."""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.descriptor import Descriptor
from hypothesis import strategies as st
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.metrics.v1.metrics_pb2 import (
    Gauge,
    Histogram,
    HistogramDataPoint,
    Metric,
    NumberDataPoint,
    ResourceMetrics,
    ScopeMetrics,
    Sum,
)
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status

INT64 = st.integers(-(2**63), 2**63 - 1)
UINT64 = st.integers(0, 2**64 - 1)
UINT32 = st.integers(0, 2**32 - 1)
ENUM = st.integers(-(2**31), 2**31 - 1)  # open enums: unknown numbers are kept
DOUBLES = st.floats(allow_nan=False)  # NaN != NaN, so message equality fails; tested apart
TEXT = st.text(max_size=12)
TRACE_IDS = st.one_of(st.just(b""), st.binary(min_size=16, max_size=16))
SPAN_IDS = st.one_of(st.just(b""), st.binary(min_size=8, max_size=8))

_LEAVES = st.one_of(
    st.just(AnyValue()),
    TEXT.map(lambda text: AnyValue(string_value=text)),
    st.booleans().map(lambda flag: AnyValue(bool_value=flag)),
    INT64.map(lambda number: AnyValue(int_value=number)),
    DOUBLES.map(lambda number: AnyValue(double_value=number)),
    st.binary(max_size=8).map(lambda raw: AnyValue(bytes_value=raw)),
)


def _key_values(values: st.SearchStrategy[AnyValue]) -> st.SearchStrategy[KeyValue]:
    return st.builds(
        lambda key, value: KeyValue(key=key) if value is None else KeyValue(key=key, value=value),
        TEXT,
        st.none() | values,
    )


ANY_VALUES: st.SearchStrategy[AnyValue] = st.recursive(
    _LEAVES,
    lambda children: st.one_of(
        st.lists(children, max_size=3).map(
            lambda values: AnyValue(array_value=ArrayValue(values=values))
        ),
        st.lists(_key_values(children), max_size=3).map(
            lambda pairs: AnyValue(kvlist_value=KeyValueList(values=pairs))
        ),
    ),
    max_leaves=8,
)
ATTRIBUTES = st.lists(_key_values(ANY_VALUES), max_size=4)

RESOURCES = st.builds(Resource, attributes=ATTRIBUTES, dropped_attributes_count=UINT32)
SCOPES = st.builds(
    InstrumentationScope,
    name=TEXT,
    version=TEXT,
    attributes=ATTRIBUTES,
    dropped_attributes_count=UINT32,
)


def log_records(*, with_ids: bool = True) -> st.SearchStrategy[LogRecord]:
    """Log records with every field drawn; ``with_ids=False`` leaves the ids out."""
    return st.builds(
        LogRecord,
        time_unix_nano=UINT64,
        observed_time_unix_nano=UINT64,
        severity_number=ENUM,
        severity_text=TEXT,
        body=st.none() | ANY_VALUES,
        attributes=ATTRIBUTES,
        dropped_attributes_count=UINT32,
        flags=UINT32,
        trace_id=TRACE_IDS if with_ids else st.just(b""),
        span_id=SPAN_IDS if with_ids else st.just(b""),
        event_name=TEXT,
    )


def logs_requests(*, with_ids: bool = True) -> st.SearchStrategy[ExportLogsServiceRequest]:
    """Export requests of a few resources, scopes and records."""
    scope_logs = st.builds(
        ScopeLogs,
        scope=st.none() | SCOPES,
        log_records=st.lists(log_records(with_ids=with_ids), max_size=3),
        schema_url=TEXT,
    )
    resource_logs = st.builds(
        ResourceLogs,
        resource=st.none() | RESOURCES,
        scope_logs=st.lists(scope_logs, max_size=2),
        schema_url=TEXT,
    )
    return st.builds(ExportLogsServiceRequest, resource_logs=st.lists(resource_logs, max_size=2))


_EVENTS = st.builds(
    Span.Event,
    time_unix_nano=UINT64,
    name=TEXT,
    attributes=ATTRIBUTES,
    dropped_attributes_count=UINT32,
)
_LINKS = st.builds(
    Span.Link,
    trace_id=TRACE_IDS,
    span_id=SPAN_IDS,
    trace_state=TEXT,
    attributes=ATTRIBUTES,
    dropped_attributes_count=UINT32,
    flags=UINT32,
)
SPANS = st.builds(
    Span,
    trace_id=TRACE_IDS,
    span_id=SPAN_IDS,
    trace_state=TEXT,
    parent_span_id=SPAN_IDS,
    flags=UINT32,
    name=TEXT,
    kind=ENUM,
    start_time_unix_nano=UINT64,
    end_time_unix_nano=UINT64,
    attributes=ATTRIBUTES,
    dropped_attributes_count=UINT32,
    events=st.lists(_EVENTS, max_size=2),
    dropped_events_count=UINT32,
    links=st.lists(_LINKS, max_size=2),
    dropped_links_count=UINT32,
    status=st.none() | st.builds(Status, message=TEXT, code=ENUM),
)
TRACE_REQUESTS = st.builds(
    ExportTraceServiceRequest,
    resource_spans=st.lists(
        st.builds(
            ResourceSpans,
            resource=st.none() | RESOURCES,
            scope_spans=st.lists(
                st.builds(
                    ScopeSpans,
                    scope=st.none() | SCOPES,
                    spans=st.lists(SPANS, max_size=3),
                    schema_url=TEXT,
                ),
                max_size=2,
            ),
            schema_url=TEXT,
        ),
        max_size=2,
    ),
)


def _number_point(value: tuple[str, float | int] | None, start: int, time: int) -> NumberDataPoint:
    point = NumberDataPoint(start_time_unix_nano=start, time_unix_nano=time)
    if value is not None:
        setattr(point, value[0], value[1])
    return point


_NUMBER_POINTS = st.builds(
    _number_point,
    st.none() | st.tuples(st.just("as_double"), DOUBLES) | st.tuples(st.just("as_int"), INT64),
    UINT64,
    UINT64,
)


def _histogram_point(
    sums: tuple[float | None, float | None, float | None],
    counts: list[int],
    bounds: list[float],
) -> HistogramDataPoint:
    point = HistogramDataPoint(count=sum(counts) % 2**64, bucket_counts=counts)
    point.explicit_bounds.extend(bounds)
    for name, value in zip(("sum", "min", "max"), sums, strict=True):
        if value is not None:
            setattr(point, name, value)
    return point


_HISTOGRAM_POINTS = st.builds(
    _histogram_point,
    st.tuples(st.none() | DOUBLES, st.none() | DOUBLES, st.none() | DOUBLES),
    st.lists(UINT64, max_size=4),
    st.lists(DOUBLES, max_size=4),
)
_METRIC_DATA = st.one_of(
    st.none(),
    st.builds(Gauge, data_points=st.lists(_NUMBER_POINTS, max_size=2)).map(lambda g: ("gauge", g)),
    st.builds(
        Sum,
        data_points=st.lists(_NUMBER_POINTS, max_size=2),
        aggregation_temporality=ENUM,
        is_monotonic=st.booleans(),
    ).map(lambda s: ("sum", s)),
    st.builds(
        Histogram, data_points=st.lists(_HISTOGRAM_POINTS, max_size=2), aggregation_temporality=ENUM
    ).map(lambda h: ("histogram", h)),
)


def _metric(name: str, unit: str, data: tuple[str, Gauge | Sum | Histogram] | None) -> Metric:
    metric = Metric(name=name, unit=unit)
    if data is not None:
        getattr(metric, data[0]).CopyFrom(data[1])
    return metric


METRICS_REQUESTS = st.builds(
    ExportMetricsServiceRequest,
    resource_metrics=st.lists(
        st.builds(
            ResourceMetrics,
            resource=st.none() | RESOURCES,
            scope_metrics=st.lists(
                st.builds(
                    ScopeMetrics,
                    scope=st.none() | SCOPES,
                    metrics=st.lists(st.builds(_metric, TEXT, TEXT, _METRIC_DATA), max_size=3),
                ),
                max_size=2,
            ),
        ),
        max_size=2,
    ),
)
"""Metrics without exemplars, so without id fields."""


def _json_keys(descriptor: Descriptor, seen: set[str]) -> Iterator[str]:
    if descriptor.full_name in seen:
        return
    seen.add(descriptor.full_name)
    for field in descriptor.fields:
        yield field.name
        yield field.json_name
        if field.message_type is not None:
            yield from _json_keys(field.message_type, seen)


_KEYS = sorted(
    {
        *_json_keys(ExportLogsServiceRequest.DESCRIPTOR, set()),
        *_json_keys(ExportTraceServiceRequest.DESCRIPTOR, set()),
        "instrumentationLibraryLogs",
        "instrumentationLibrarySpans",
        "instrumentationLibrary",
        "unknown",
    }
)
JSON_KEYS = st.sampled_from(_KEYS) | st.text(max_size=4)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=8),
    st.sampled_from(["NaN", "Infinity", "5B8EFFF798038103D269B633813FC60C", "EEE19B7EC3C1B174"]),
    st.sampled_from(["SPAN_KIND_SERVER", "SEVERITY_NUMBER_INFO", "1e3", "-1", "aGk="]),
)
JSON_OBJECTS = st.dictionaries(
    JSON_KEYS,
    st.recursive(
        JSON_SCALARS,
        lambda children: (
            st.lists(children, max_size=3) | st.dictionaries(JSON_KEYS, children, max_size=4)
        ),
        max_leaves=20,
    ),
    max_size=4,
)
"""JSON objects whose keys are mostly OTLP field names, with values of any JSON type."""
