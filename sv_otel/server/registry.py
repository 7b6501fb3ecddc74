"""The component registry: which config ``type`` builds which receiver, processor or exporter.

A component id in the configuration is ``type[/name]`` (``otlp``, ``otlp/tempo``); the type
selects a :class:`ComponentType` registered here. Each type has two functions:

* ``parse(section) -> settings``: read and validate its YAML mapping through a
  :class:`~sv_otel.server.section.ConfigSection` (call ``section.finish()`` to reject unknown
  keys). It runs once in the supervisor before anything starts, so a bad file fails fast.
* ``create(settings, context) -> component``: build the component in a worker process.

The kinds of component and what ``create`` returns:

===========  ===========================================  ====================================
kind         returns                                       used as
===========  ===========================================  ====================================
receiver     :class:`Receiver` (``start(sink)``,           producer of events into the
             ``shutdown()``)                              pipelines that list it
processor    :class:`~sv_otel.components.EventProcessor`   between receivers and the queue
exporter     :class:`~sv_otel.components.EventExporter`    consumer of one pipeline's queue
===========  ===========================================  ====================================

A processor that is also an :class:`HttpRouteProvider` gets its routes served by the HTTP
receivers that feed its pipeline and have a CORS policy (browser-facing ones), bound to that
receiver's sink and policy (e.g. the ``sessions`` processor's ``/api/v1/sessions/start``). A type
registered with ``exclusive=True`` owns state in the data directory: the configuration may use
one component of that type, in one pipeline.

sv_otel's own types are registered in :func:`sv_otel.server.builtins.register_builtins`, one
line each, and added to :data:`REGISTRY` on its first use::

    registry.register("exporter", "sessionvision", parse_settings, create_exporter)

Installed packages register theirs from an entry point in the ``sv_otel.components`` group (the
loaded object is called with the registry). Both routes also work in the worker processes of
``--workers N``, which are started fresh (``spawn``); a ``REGISTRY.register(...)`` call made at
run time works in one process only (tests, embedding).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from starlette.routing import BaseRoute

from sv_otel.components import EventSink
from sv_otel.errors import ConfigurationError
from sv_otel.event import Event
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.server.section import ConfigSection

if TYPE_CHECKING:
    from sv_otel.ingest.cors import CorsPolicy

__all__ = [
    "REGISTRY",
    "ComponentContext",
    "ComponentKind",
    "ComponentType",
    "HttpRouteProvider",
    "Receiver",
    "Registry",
    "split_id",
]

ComponentKind = Literal["receiver", "processor", "exporter"]
_KINDS: tuple[ComponentKind, ...] = ("receiver", "processor", "exporter")


class Receiver(Protocol):
    """A source of events: it owns its servers and hands what it accepts to ``sink``."""

    name: str

    async def start(self, sink: EventSink) -> None:
        """Start serving (bind ports, start servers); return once ready."""
        ...

    async def shutdown(self) -> None:
        """Stop accepting, finish requests in flight, release the ports."""
        ...


@runtime_checkable
class HttpRouteProvider(Protocol):
    """A processor that also answers HTTP requests (see the module docstring)."""

    def http_routes(
        self,
        submit: Callable[[Sequence[Event]], Awaitable[None]],
        cors: CorsPolicy,
        body_timeout: float,
    ) -> Sequence[BaseRoute]:
        """Routes for one receiver: ``submit`` hands events to its sink, ``cors`` is its policy,
        ``body_timeout`` the seconds a request body may take there."""
        ...


@dataclass(frozen=True)
class ComponentContext:
    """What a component's ``create`` gets besides its settings.

    Attributes:
        name: the component id (``otlp/tempo``).
        signal: for exporters and processors, the pipeline's signal (``logs`` or ``traces``).
        pipeline: for exporters and processors, the pipeline id (``logs``, ``traces/2``).
        data_dir: the gateway's data directory (queue, exports, dead letters live here).
        worker: this process's worker index (0-based); workers: how many there are.
        metrics: the process's :class:`~sv_otel.server.metrics.GatewayMetrics`.
        extra_routes: routes an HTTP receiver should also serve: ``/healthz``, ``/readyz``,
            ``/metrics`` (the first HTTP receiver only) and those of the
            :class:`HttpRouteProvider` processors of its pipelines.
    """

    name: str
    data_dir: Path
    metrics: GatewayMetrics
    signal: str | None = None
    pipeline: str | None = None
    worker: int = 0
    workers: int = 1
    extra_routes: tuple[BaseRoute, ...] = ()

    @property
    def reuse_port(self) -> bool:
        """Whether listening sockets must be shared by several worker processes."""
        return self.workers > 1


@dataclass(frozen=True)
class ComponentType:
    """One registered component type (see the module docstring)."""

    kind: ComponentKind
    type: str
    parse: Callable[[ConfigSection], Any]
    create: Callable[[Any, ComponentContext], Any]
    serves_http: bool | Callable[[Any], bool] = False
    """Whether it runs an HTTP server that can carry ``extra_routes`` (or a function of its
    settings saying so, for types whose HTTP server can be turned off)."""

    exclusive: bool = False
    """Whether at most one component of this type may be used, in one pipeline."""

    def http_served(self, settings: Any) -> bool:
        """Whether a component of this type with ``settings`` runs an HTTP server."""
        if callable(self.serves_http):
            return self.serves_http(settings)
        return self.serves_http


@dataclass
class Registry:
    """Component types by kind and type name."""

    types: dict[ComponentKind, dict[str, ComponentType]] = field(
        default_factory=lambda: {kind: {} for kind in _KINDS}
    )
    _loaded: bool = False

    def register(
        self,
        kind: ComponentKind,
        type_name: str,
        parse: Callable[[ConfigSection], Any],
        create: Callable[[Any, ComponentContext], Any],
        *,
        serves_http: bool | Callable[[Any], bool] = False,
        exclusive: bool = False,
    ) -> None:
        """Register (or replace) the component type ``type_name`` of ``kind``."""
        if kind not in _KINDS:
            raise ValueError(f"unknown component kind {kind!r}")
        self.types[kind][type_name] = ComponentType(
            kind, type_name, parse, create, serves_http, exclusive
        )

    def get(self, kind: ComponentKind, component_id: str, where: str) -> ComponentType:
        """The type of ``component_id`` (``type[/name]``).

        Raises:
            ConfigurationError: the type is not registered (naming ``where`` and the known ones).
        """
        self.load_builtins()
        type_name, _ = split_id(component_id, where)
        found = self.types[kind].get(type_name)
        if found is None:
            known = ", ".join(sorted(self.types[kind])) or "none"
            raise ConfigurationError(f"{where}: unknown {kind} type {type_name!r} (known: {known})")
        return found

    def load_builtins(self) -> None:
        """Register the built-in types (unless registered already) and the entry points'.

        Runs once, on the first :meth:`get`; installed packages register theirs from an
        entry point in the ``sv_otel.components`` group (called with the registry).
        """
        if self._loaded:
            return
        self._loaded = True
        from sv_otel.server.builtins import register_builtins  # imports every component

        builtin = Registry(_loaded=True)
        register_builtins(builtin)
        for kind, types in builtin.types.items():
            for type_name, component_type in types.items():
                self.types[kind].setdefault(type_name, component_type)
        for entry_point in entry_points(group="sv_otel.components"):
            entry_point.load()(self)


def split_id(component_id: str, where: str) -> tuple[str, str]:
    """``("otlp", "tempo")`` from ``otlp/tempo``; the name is empty when absent."""
    type_name, _, name = component_id.partition("/")
    if not type_name or (_ and not name):
        raise ConfigurationError(f"{where}: {component_id!r} is not a valid id (type[/name])")
    return type_name, name


REGISTRY = Registry()
"""The process-wide registry; :mod:`sv_otel.server.builtins` fills in the built-in types."""
