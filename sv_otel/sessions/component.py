"""The ``sessions`` processor of ``sv-otel serve``: lifecycle events and the start endpoint.

Registered as processor type ``sessions`` (:mod:`sv_otel.server.builtins`, settings in
:mod:`sv_otel.sessions.settings`). Each worker process creates one :class:`SessionsProcessor`
over ``<data_dir>/sessions/``; the workers share that directory safely (see
:mod:`sv_otel.sessions.store`), so ``sv-otel sessions list --data-dir DIR`` reads the same
layout whatever the number of workers. One pipeline holds it (the configuration refuses a
second), since its state is one per data directory.

When ``start`` is configured the gateway mounts ``POST /api/v1/sessions/start`` on the HTTP
endpoint of every receiver that feeds the processor's pipeline and has a CORS policy (the
sessionvision receivers), through :meth:`SessionsProcessor.http_routes`: the route answers with
that receiver's CORS policy and submits its ``$start`` events to that receiver's sink, so they
pass the same processors and queue as ingested events.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import BaseRoute

from sv_otel.event import Event
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.server.registry import ComponentContext
from sv_otel.sessions.asgi import EventSubmitter, start_route
from sv_otel.sessions.lifecycle import SessionLifecycleProcessor
from sv_otel.sessions.settings import SessionsSettings, StartSettings
from sv_otel.sessions.start import SessionStarter

__all__ = ["SessionsProcessor", "create_sessions_processor"]


class SessionsProcessor:
    """A :class:`~sv_otel.components.EventProcessor` that also serves the start endpoint.

    Args:
        name: the component id (``sessions``).
        lifecycle: tracks the sessions and emits ``session.start`` / ``session.end``.
        start: the start endpoint's settings; None when it is not served.
    """

    def __init__(
        self, name: str, lifecycle: SessionLifecycleProcessor, start: StartSettings | None
    ) -> None:
        self.name = name
        self.lifecycle = lifecycle
        self.starter = (
            None
            if start is None
            else SessionStarter(
                secret=start.secret, ttl_seconds=start.token_ttl, has_ended=lifecycle.has_ended
            )
        )

    def process(self, events: Sequence[Event], now_ms: int) -> list[Event]:
        """The events with ``session.start`` / ``session.end`` inserted."""
        return self.lifecycle.process(events, now_ms)

    def poll(self, now_ms: int) -> list[Event]:
        """``session.end`` of the sessions that timed out."""
        return self.lifecycle.poll(now_ms)

    def shutdown(self, now_ms: int) -> list[Event]:
        """``session.end`` of every session (if ``end_on_shutdown``); releases the directory."""
        return self.lifecycle.shutdown(now_ms)

    def http_routes(
        self, submit: EventSubmitter, cors: CorsPolicy, body_timeout: float
    ) -> tuple[BaseRoute, ...]:
        """The start route for one receiver, submitting through ``submit`` (none if disabled)."""
        if self.starter is None:
            return ()
        return (start_route(self.starter, submit, cors=cors, body_timeout=body_timeout),)


def create_sessions_processor(
    settings: SessionsSettings, context: ComponentContext
) -> SessionsProcessor:
    """The registry's ``create`` for the ``sessions`` processor type.

    Raises:
        ConfigurationError: the session directory or its state cannot be used.
    """
    lifecycle = SessionLifecycleProcessor(context.data_dir, settings.config)
    return SessionsProcessor(context.name, lifecycle, settings.start)
