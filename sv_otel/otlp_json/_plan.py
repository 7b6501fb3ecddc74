"""Per-message-type codec plans, compiled once from protobuf descriptors and cached.

A :class:`MessagePlan` holds, for one message type, a table from every accepted JSON key (the
lowerCamelCase ``json_name`` and the original snake_case name) to a :class:`DField`, and the list
of :class:`EField` (fields, and oneofs as a whole) to visit when encoding, in field-number order.
Each entry carries a small integer ``kind`` that the walkers in :mod:`~sv_otel.otlp_json.decode`
and :mod:`~sv_otel.otlp_json.encode` dispatch on, so the hot loops do no descriptor lookups.

The deprecated ``instrumentationLibrary{Logs,Spans,Metrics}`` arrays of old producers (proto field
1000, now reserved) are planned here as extra keys of ``ResourceLogs``/``ResourceSpans``/
``ResourceMetrics`` whose elements decode as ``ScopeLogs``/``ScopeSpans``/``ScopeMetrics``, with
``instrumentationLibrary`` accepted for ``scope``; the walker uses them only where the regular
``scope*`` array is empty or absent.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from typing import NamedTuple

from google.protobuf import descriptor_pool, empty_pb2, message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from sv_otel.otlp_json import _wkt
from sv_otel.otlp_json._decode_scalars import Decoder, decoder_for
from sv_otel.otlp_json._encode_scalars import Encoder, encoder_for
from sv_otel.otlp_json._path import FieldError, describe, json_type

__all__ = [
    "ANY",
    "DField",
    "EField",
    "FieldInfo",
    "MessagePlan",
    "descriptor_of",
    "plan_for",
    "plan_for_type_url",
]

ANY = "google.protobuf.Any"

# Decoding kinds, most frequent first in the walker.
D_MSG, D_REP_MSG, D_STR, D_SCALAR, D_OTHER, D_MIGRATE = range(6)
# Encoding kinds: how to test presence and convert.
E_PLAIN, E_REP_MSG, E_ONEOF, E_MSG, E_CONV, E_DOUBLE, E_PRESENT, E_OTHER = range(8)
# What a single value of a field is.
T_SCALAR, T_MESSAGE, T_SPECIAL = range(3)

_MIGRATIONS = {
    "opentelemetry.proto.logs.v1.ResourceLogs": ("instrumentation_library_logs", "scope_logs"),
    "opentelemetry.proto.trace.v1.ResourceSpans": ("instrumentation_library_spans", "scope_spans"),
    "opentelemetry.proto.metrics.v1.ResourceMetrics": (
        "instrumentation_library_metrics",
        "scope_metrics",
    ),
}
_OLD_SCOPE_KEYS = ("instrumentation_library", "instrumentationLibrary")
_NULLABLE = frozenset({"google.protobuf.Value", "google.protobuf.NullValue"})

# The standard google.rpc error details (RetryInfo, BadRequest, ...) that OTLP/HTTP servers put in
# Status.details: registering them lets Any fields resolve them without the caller importing them.
# (googleapis-common-protos comes with the OTLP exporters.)
with contextlib.suppress(ImportError):
    importlib.import_module("google.rpc.error_details_pb2")


class MessagePlan:
    """How to decode and encode one message type.

    Attributes:
        cls: The generated message class.
        descriptor: Its descriptor.
        special: The full name if the type has its own JSON form (well-known types, ``Any``).
        decode_fields: Accepted JSON key -> field plan.
        oneofs: The field names of each oneof with several members (for conflict resolution).
        encode_fields: The plans of the fields and oneofs to visit when encoding, by number.
    """

    __slots__ = ("cls", "decode_fields", "descriptor", "encode_fields", "oneofs", "special")

    def __init__(self, cls: type[Message], descriptor: Descriptor) -> None:
        self.cls = cls
        self.descriptor = descriptor
        name = descriptor.full_name
        self.special = name if name in _wkt.DECODERS or name == ANY else None
        self.decode_fields: dict[object, DField] = {}
        self.oneofs: tuple[frozenset[str], ...] = ()
        self.encode_fields: list[EField] = []


class FieldInfo(NamedTuple):
    """The less often needed facts about a field."""

    target: int  # T_* code: what one value is
    repeated: bool
    is_map: bool
    nullable: bool  # JSON null is a value (google.protobuf.Value, NullValue), not "unset"


class DField(NamedTuple):
    """Decoding plan of one field."""

    name: str  # constructor keyword (the proto field name)
    kind: int  # D_* code for the walker
    plan: MessagePlan  # message, map entry or migrated type; a placeholder for scalars
    conv: Decoder  # scalar converter; a placeholder for messages
    info: FieldInfo


class EField(NamedTuple):
    """Encoding plan of one field, or of a whole oneof (``kind == E_ONEOF``)."""

    name: str  # attribute name, or the oneof's name
    json: str  # output key (json_name)
    kind: int  # E_* code for the walker
    plan: MessagePlan
    conv: Encoder
    members: dict[str, EField]  # E_ONEOF: member name -> member plan
    info: FieldInfo


def _no_decoder(value: object, strict: bool) -> object:
    raise FieldError("internal error: no scalar decoder")  # pragma: no cover


def _identity(value: object) -> object:
    return value


_LOCK = threading.RLock()
_BY_CLASS: dict[type[Message], MessagePlan] = {}
_BY_DESCRIPTOR: dict[Descriptor, MessagePlan] = {}


def plan_for(cls: type[Message]) -> MessagePlan:
    """Return the (cached) plan of a message class, compiling it and its field types once."""
    plan = _BY_CLASS.get(cls)
    if plan is not None:
        return plan
    with _LOCK:
        plan = _BY_CLASS.get(cls)
        if plan is None:
            building: dict[Descriptor, MessagePlan] = {}
            plan = _build(descriptor_of(cls), cls, building)
            # Publish complete plans only: readers of _BY_CLASS do not take the lock.
            _BY_DESCRIPTOR.update(building)
            _BY_CLASS[cls] = plan
        return plan


def descriptor_of(cls: type[Message]) -> Descriptor:
    """Return the descriptor of a message class (narrowed for the type checker)."""
    descriptor = cls.DESCRIPTOR
    if not isinstance(descriptor, Descriptor):  # pragma: no cover - upb's is registered as one
        raise TypeError(f"{cls.__name__} has no message descriptor")
    return descriptor


_PLACEHOLDER = MessagePlan(empty_pb2.Empty, descriptor_of(empty_pb2.Empty))


def plan_for_type_url(type_url: str) -> MessagePlan | None:
    """Return the plan of the message type named by an ``Any`` type URL, if it is known."""
    name = type_url.rpartition("/")[2]
    try:
        descriptor = descriptor_pool.Default().FindMessageTypeByName(name)
    except (KeyError, TypeError, ValueError):
        return None
    return plan_for(message_factory.GetMessageClass(descriptor))


def _plan_of(descriptor: Descriptor, building: dict[Descriptor, MessagePlan]) -> MessagePlan:
    plan = _BY_DESCRIPTOR.get(descriptor) or building.get(descriptor)
    if plan is None:
        plan = _build(descriptor, message_factory.GetMessageClass(descriptor), building)
    return plan


def _is_repeated(field: FieldDescriptor) -> bool:
    flag = getattr(field, "is_repeated", None)  # protobuf >= 6; older ones only have label
    if isinstance(flag, bool):
        return flag
    return bool(getattr(field, "label", 0) == FieldDescriptor.LABEL_REPEATED)


def _build(
    descriptor: Descriptor, cls: type[Message], building: dict[Descriptor, MessagePlan]
) -> MessagePlan:
    plan = MessagePlan(cls, descriptor)
    building[descriptor] = plan  # before the fields: types can be recursive (AnyValue)
    is_map_entry = descriptor.GetOptions().map_entry
    oneofs: dict[str, dict[str, EField]] = {}
    ordered: list[tuple[int, EField]] = []
    for field in descriptor.fields:
        dfield, efield = _field(field, building)
        if is_map_entry and field.name == "key":
            dfield = dfield._replace(conv=_map_key_decoder(field, dfield.conv))
        plan.decode_fields[field.name] = dfield
        plan.decode_fields[field.json_name] = dfield
        oneof = field.containing_oneof
        if oneof is not None and len(oneof.fields) > 1:
            members = oneofs.get(oneof.name)
            if members is None:
                members = oneofs[oneof.name] = {}
                group = EField(
                    oneof.name, "", E_ONEOF, _PLACEHOLDER, _identity, members, efield.info
                )
                ordered.append((field.number, group))
            members[field.name] = efield._replace(kind=_member_kind(efield))
        else:
            ordered.append((field.number, efield))
    plan.oneofs = tuple(frozenset(members) for members in oneofs.values())
    plan.encode_fields = [efield for _, efield in sorted(ordered, key=lambda item: item[0])]
    migration = _MIGRATIONS.get(descriptor.full_name)
    if migration is not None and migration[1] in descriptor.fields_by_name:
        old_name, new_name = migration
        current = plan.decode_fields[new_name]
        alias = MessagePlan(current.plan.cls, current.plan.descriptor)
        alias.decode_fields = dict(current.plan.decode_fields)
        for key in _OLD_SCOPE_KEYS:
            alias.decode_fields[key] = alias.decode_fields["scope"]
        entry = current._replace(kind=D_MIGRATE, plan=alias)
        plan.decode_fields[old_name] = entry
        plan.decode_fields[_camel(old_name)] = entry
    return plan


def _field(
    field: FieldDescriptor, building: dict[Descriptor, MessagePlan]
) -> tuple[DField, EField]:
    repeated = _is_repeated(field)
    message = field.message_type
    is_map = message is not None and message.GetOptions().map_entry
    decoder: Decoder = _no_decoder
    encoder: Encoder | None = None
    if message is not None:
        sub = _plan_of(message, building)
        target = T_SPECIAL if sub.special else T_MESSAGE
        type_name = message.full_name
    else:
        sub, target = _PLACEHOLDER, T_SCALAR
        decoder, encoder = decoder_for(field), encoder_for(field)
        type_name = field.enum_type.full_name if field.enum_type is not None else ""
    info = FieldInfo(target, repeated, is_map, type_name in _NULLABLE)
    single_message = target == T_MESSAGE and not is_map
    if single_message:
        dkind = D_REP_MSG if repeated else D_MSG
    elif target == T_SCALAR and not repeated:
        dkind = D_STR if field.type == FieldDescriptor.TYPE_STRING else D_SCALAR
    else:
        dkind = D_OTHER
    if is_map or repeated:
        ekind = E_REP_MSG if single_message else E_OTHER
    elif field.has_presence:
        ekind = E_MSG if single_message else E_PRESENT
    elif field.type == FieldDescriptor.TYPE_DOUBLE or field.type == FieldDescriptor.TYPE_FLOAT:
        ekind = E_DOUBLE  # -0.0 is not the default: it is set, and stays set
    else:
        ekind = E_PLAIN if encoder is None else E_CONV
    dfield = DField(field.name, dkind, sub, decoder, info)
    efield = EField(field.name, field.json_name, ekind, sub, encoder or _identity, {}, info)
    return dfield, efield


def _member_kind(efield: EField) -> int:
    """The kind of a oneof member: E_PLAIN, E_CONV, E_MSG (a plain message) or E_PRESENT."""
    if efield.info.target == T_MESSAGE:
        return E_MSG
    if efield.info.target == T_SPECIAL:
        return E_PRESENT
    return E_PLAIN if efield.conv is _identity else E_CONV


def _map_key_decoder(field: FieldDescriptor, decoder: Decoder) -> Decoder:
    """Map keys are always JSON strings; bool keys are ``"true"``/``"false"``."""
    if field.type != FieldDescriptor.TYPE_BOOL:
        return decoder  # the string and integer decoders accept strings

    def decode(value: object, strict: bool) -> object:
        if value in ("true", "false"):
            return value == "true"
        shown = describe(value) if isinstance(value, str) else json_type(value)
        raise FieldError(f"expected map key true or false, got {shown}")

    return decode


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
