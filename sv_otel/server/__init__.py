"""``sv-otel serve``: configuration, the component registry, pipelines, workers, health."""

from sv_otel.server.config import GatewayConfig, default_config, load_config, read_config_file
from sv_otel.server.metrics import GatewayMetrics
from sv_otel.server.process import run_gateway, serve_worker
from sv_otel.server.registry import REGISTRY, ComponentContext, Receiver, Registry
from sv_otel.server.runtime import Gateway
from sv_otel.server.section import ConfigSection

__all__ = [
    "REGISTRY",
    "ComponentContext",
    "ConfigSection",
    "Gateway",
    "GatewayConfig",
    "GatewayMetrics",
    "Receiver",
    "Registry",
    "default_config",
    "load_config",
    "read_config_file",
    "run_gateway",
    "serve_worker",
]
