"""Decode OTLP/JSON into protobuf messages, following the OTLP "JSON Protobuf Encoding" rules.

The walker turns parsed JSON into nested keyword-argument dicts that the generated message class
consumes in one constructor call (the nested construction then runs in protobuf's C code), using
the cached :mod:`~sv_otel.otlp_json._plan` of each message type. Lenient where the OpenTelemetry
Collector is lenient (snake_case keys, enum names, ids in any letter case, unknown fields
ignored), strict about JSON types, ranges and id lengths, and every problem is an
:class:`~sv_otel.errors.InvalidOTLPError` that names the JSON path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from google.protobuf import any_pb2
from google.protobuf.message import Message

from sv_otel.errors import InvalidOTLPError
from sv_otel.otlp_json import _text, _wkt
from sv_otel.otlp_json._partial import leave_out_too_deep, leaving_out, may_leave_out
from sv_otel.otlp_json._path import (
    MAX_DEPTH,
    FieldError,
    describe,
    json_type,
    key_segment,
    too_deep,
)
from sv_otel.otlp_json._plan import (
    ANY,
    D_MIGRATE,
    D_MSG,
    D_REP_MSG,
    D_SCALAR,
    D_STR,
    T_MESSAGE,
    T_SCALAR,
    DField,
    MessagePlan,
    plan_for,
    plan_for_type_url,
)

__all__ = ["decode_json", "decode_json_dict", "decode_json_partial"]

M = TypeVar("M", bound=Message)


def decode_json(data: bytes | str, message_type: type[M], *, strict_ids: bool = True) -> M:
    """Decode an OTLP/JSON body into a message of ``message_type``.

    Args:
        data: The JSON text, as UTF-8 bytes or a string.
        message_type: The generated message class, e.g. ``ExportLogsServiceRequest``.
        strict_ids: Reject malformed ``traceId``/``spanId``/``parentSpanId``/``profileId`` hex
            strings; when false they are decoded as absent (empty bytes) instead.

    Returns:
        The decoded message.

    Raises:
        InvalidOTLPError: The body is not JSON, or does not describe a ``message_type``.
    """
    return _text.read(data, lambda obj: _decode_root(obj, message_type, strict_ids))


def decode_json_partial(
    data: bytes | str, message_type: type[M], *, strict_ids: bool = True
) -> tuple[M, int]:
    """Decode an OTLP/JSON request as :func:`decode_json` does, sparing what is not too deep.

    A log record or span nested deeper than :data:`MAX_DEPTH` levels (counted from the request)
    is left out rather than failing the whole body, as a receiver's partial success wants; so is
    a scope or resource block nested that deep outside its records (in its scope's or resource's
    attributes), with all its records.

    Returns:
        The decoded message, and the number of records (log records or spans) left out.

    Raises:
        InvalidOTLPError: As for :func:`decode_json`.
    """

    def convert(obj: object) -> tuple[M, int]:
        with leaving_out() as left_out:
            return _decode_root(obj, message_type, strict_ids), sum(left_out)

    return _text.read(data, convert)


def decode_json_dict(
    obj: Mapping[str, object], message_type: type[M], *, strict_ids: bool = True
) -> M:
    """Decode already-parsed OTLP/JSON (``dict``/``list``/``str``/``int``/...) into a message.

    Args:
        obj: The JSON object, e.g. from ``json.loads``.
        message_type: The generated message class.
        strict_ids: As for :func:`decode_json`.

    Returns:
        The decoded message.

    Raises:
        InvalidOTLPError: ``obj`` does not describe a ``message_type``.
    """
    return _decode_root(obj, message_type, strict_ids)


def _decode_root(obj: object, message_type: type[M], strict: bool) -> M:
    plan = plan_for(message_type)
    try:
        if plan.special is not None:
            special = _special(plan, obj, strict, 1)
            if isinstance(special, message_type):
                return special
            raise FieldError(f"internal error: decoded {type(special).__name__}")
        kwargs = _message(plan, obj, strict, 1)
    except FieldError as err:
        raise err.to_invalid() from None
    try:
        return message_type(**kwargs)
    except (TypeError, ValueError) as err:  # not expected: the walker checks every value
        raise InvalidOTLPError(f"body: {err}") from None


def _as_mapping(value: object) -> Mapping[object, object]:
    if isinstance(value, Mapping):
        return value
    raise FieldError(f"expected object, got {json_type(value)}")


def _as_list(value: object) -> list[object] | tuple[object, ...]:
    if isinstance(value, (list, tuple)):
        return value
    raise FieldError(f"expected array, got {json_type(value)}")


def _message(plan: MessagePlan, obj: object, strict: bool, depth: int) -> dict[str, object]:
    """Return the constructor keyword arguments of ``plan``'s message type for JSON ``obj``."""
    items = obj if type(obj) is dict else _as_mapping(obj)
    if depth > MAX_DEPTH:
        raise too_deep()
    fields = plan.decode_fields
    out: dict[str, object] = {}
    migrated: list[tuple[str, list[dict[str, object]]]] | None = None
    for key, value in items.items():
        entry = fields.get(key)
        if entry is None:
            continue  # unknown field: ignored, as the OTLP specification requires
        name, kind, sub, conv, info = entry
        try:
            if value is None:  # "not set" (undoing another spelling of the key), except where
                if info.nullable and not info.repeated:  # null is a value
                    out[name] = _single(entry, None, strict, depth)
                else:
                    out.pop(name, None)
            elif kind == D_MSG:
                out[name] = _message(sub, value, strict, depth + 1)
            elif kind == D_STR:
                out[name] = value if type(value) is str and value.isascii() else conv(value, strict)
            elif kind == D_REP_MSG:
                out[name] = _messages(sub, value, strict, depth + 1)
            elif kind == D_SCALAR:
                out[name] = conv(value, strict)
            elif kind == D_MIGRATE:
                if migrated is None:
                    migrated = []
                migrated.append((name, _messages(sub, value, strict, depth + 1)))
            else:
                out[name] = _other(entry, value, strict, depth)
        except FieldError as err:
            err.parts.append(str(key))
            raise
    if plan.oneofs and len(out) > 1:
        _resolve_oneofs(plan, items, out)
    if migrated is not None:
        # A deprecated instrumentationLibrary* array stands in for an empty or absent scope*
        # array, and is ignored beside a non-empty one: senders MAY double-publish the same data
        # in both (opentelemetry-proto's rule, and what the Collector's MigrateLogs does).
        for name, old in migrated:
            if not out.get(name):
                out[name] = old
    return out


def _resolve_oneofs(
    plan: MessagePlan, items: Mapping[object, object], out: dict[str, object]
) -> None:
    """Keep only the member of each oneof that comes last in the JSON (as the Collector does)."""
    for members in plan.oneofs:
        present = members.intersection(out)
        if len(present) < 2:
            continue
        fields = plan.decode_fields
        keys = [
            key
            for key, value in items.items()
            if value is not None and key in fields and fields[key].name in present
        ]
        winner = fields[keys[-1]].name
        for name in present - {winner}:
            del out[name]


def _messages(
    plan: MessagePlan, value: object, strict: bool, depth: int
) -> list[dict[str, object]]:
    items = value if type(value) is list else _as_list(value)
    out: list[dict[str, object]] = []
    append = out.append
    try:
        for item in items:
            append(_message(plan, item, strict, depth))
    except FieldError as err:
        left_out = may_leave_out(plan, err)
        if left_out is None:
            err.parts.append(len(out))  # the index of the failing item
            raise
        return leave_out_too_deep(
            plan, items, out, left_out, lambda item: _message(plan, item, strict, depth)
        )
    return out


def _other(entry: DField, value: object, strict: bool, depth: int) -> object:
    """Convert the value of a map, a repeated scalar, or a well-known-type field."""
    if entry.info.is_map:
        return _map(entry.plan, value, strict, depth + 1)
    if not entry.info.repeated:
        return _single(entry, value, strict, depth)
    items = _as_list(value)
    out: list[object] = []
    try:
        for item in items:
            if item is None and not entry.info.nullable:
                raise FieldError("expected a value, got null")
            out.append(_single(entry, item, strict, depth))
    except FieldError as err:
        err.parts.append(len(out))  # the index of the failing item
        raise
    return out


def _single(entry: DField, value: object, strict: bool, depth: int) -> object:
    """Convert one value of the field's type (one element if the field is repeated)."""
    target = entry.info.target
    if target == T_SCALAR:
        if value is None:  # only NullValue gets here
            return 0
        return entry.conv(value, strict)
    if target == T_MESSAGE:
        return _message(entry.plan, value, strict, depth + 1)
    return _special(entry.plan, value, strict, depth + 1)


def _map(plan: MessagePlan, value: object, strict: bool, depth: int) -> dict[object, object]:
    """Convert a JSON object to a map field; ``plan`` is the map entry type's."""
    key_entry, value_entry = plan.decode_fields["key"], plan.decode_fields["value"]
    out: dict[object, object] = {}
    for key, item in _as_mapping(value).items():
        try:
            if item is None and not value_entry.info.nullable:
                raise FieldError("expected a value, got null")
            out[key_entry.conv(key, strict)] = _single(value_entry, item, strict, depth)
        except FieldError as err:
            err.parts.append(key_segment(key))
            raise
    return out


def _special(plan: MessagePlan, value: object, strict: bool, depth: int) -> Message:
    """Decode a type with its own JSON form: a well-known type or ``Any``."""
    if depth > MAX_DEPTH:
        raise too_deep()
    if plan.special != ANY:
        return _wkt.DECODERS[plan.descriptor.full_name](value, strict, depth)
    items = _as_mapping(value)
    type_url = items.get("@type")
    if type_url is None:
        if any(key != "@type" for key in items):
            raise FieldError('expected "@type" in Any')
        return any_pb2.Any()
    if not isinstance(type_url, str):
        raise FieldError(f'expected string "@type", got {json_type(type_url)}')
    payload_plan = plan_for_type_url(type_url)
    if payload_plan is None:
        raise FieldError(f"unknown message type {describe(type_url)} in Any")
    if payload_plan.special is not None:
        try:
            payload = _special(payload_plan, items.get("value"), strict, depth + 1)
        except FieldError as err:
            err.parts.append("value")
            raise
    else:
        payload = payload_plan.cls(**_message(payload_plan, items, strict, depth + 1))
    # Deterministic: map entries by key, so one JSON text always gives the same bytes.
    return any_pb2.Any(type_url=type_url, value=payload.SerializeToString(deterministic=True))
