"""Settings of the sessionvision ingest receiver (config type ``sessionvision``).

YAML, in the Collector's vocabulary (every key optional)::

    receivers:
      sessionvision:
        protocols:
          http:
            endpoint: 127.0.0.1:8080      # --ingest-address
            cors:
              allowed_origins: ["https://shop.example.com", "https://*.example.org"]
              allowed_headers: [X-Request-Id]   # added to the defaults
              max_age: 7200
          grpc:
            endpoint: 127.0.0.1:4320      # the sessionvision.v1.Ingest service; off if absent
        tokens: ["${env:SV_TOKEN}"]       # --token; none = open
        token_header: X-Sessionvision-Token
        max_request_bytes: 10MiB          # raw body, before decompression
        max_body_bytes: 10MiB             # after decompression (gzip bombs stop here)
        max_events: 10000
        body_timeout: 10s                 # slower headers or bodies get 408
        max_concurrent_requests: 1024     # more get 503 + Retry-After
        retry_after: 1s
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sv_otel.errors import ConfigurationError
from sv_otel.headers import CREDENTIAL, is_credential
from sv_otel.ingest.auth import DEFAULT_TOKEN_HEADER
from sv_otel.ingest.cors import CorsPolicy
from sv_otel.limits import Limits
from sv_otel.server.deadline import DEFAULT_BODY_TIMEOUT
from sv_otel.server.section import ConfigSection, parse_endpoint

__all__ = ["DEFAULT_HTTP_ENDPOINT", "IngestSettings", "parse_ingest_settings"]

DEFAULT_HTTP_ENDPOINT = "127.0.0.1:8080"
_LIMITS = Limits()


@dataclass(frozen=True)
class IngestSettings:
    """Everything the ingest endpoint needs; the defaults are the documented ones."""

    http_endpoint: tuple[str, int] | None = ("127.0.0.1", 8080)
    grpc_endpoint: tuple[str, int] | None = None
    cors: CorsPolicy = field(default_factory=CorsPolicy)
    tokens: tuple[str, ...] = ()
    token_header: str = DEFAULT_TOKEN_HEADER
    max_request_bytes: int = 10 * 1024 * 1024
    limits: Limits = field(default_factory=Limits)
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    max_concurrent_requests: int = 1024
    retry_after: float = 1.0


def parse_ingest_settings(section: ConfigSection) -> IngestSettings:
    """Read :class:`IngestSettings` from a ``receivers.sessionvision`` section."""
    protocols = section.section("protocols")
    http = protocols.section("http") if protocols.has("http") or not protocols.raw else None
    grpc = protocols.section("grpc") if protocols.has("grpc") else None
    http_endpoint = None
    token_header = section.string("token_header", DEFAULT_TOKEN_HEADER)
    cors = CorsPolicy.create(("*",), (token_header,), 7200)
    if http is not None:
        address = http.string("endpoint", DEFAULT_HTTP_ENDPOINT)
        http_endpoint = parse_endpoint(address, http.key_path("endpoint"))
        cors_section = http.section("cors")
        cors = CorsPolicy.create(
            cors_section.strings("allowed_origins", ("*",)),
            (*cors_section.strings("allowed_headers"), token_header),
            cors_section.integer("max_age", 7200),
        )
        cors_section.finish()
        http.finish()
    grpc_endpoint = None
    if grpc is not None:
        address = grpc.string("endpoint", "127.0.0.1:4320")
        grpc_endpoint = parse_endpoint(address, grpc.key_path("endpoint"))
        grpc.finish()
    protocols.finish()
    max_body = section.size("max_body_bytes", _LIMITS.max_body_bytes)
    settings = IngestSettings(
        http_endpoint=http_endpoint,
        grpc_endpoint=grpc_endpoint,
        cors=cors,
        tokens=_tokens(section),
        token_header=token_header,
        max_request_bytes=section.size("max_request_bytes", max_body),
        limits=Limits(
            max_body_bytes=max_body,
            max_events=section.integer("max_events", _LIMITS.max_events, minimum=1),
        ),
        body_timeout=section.duration("body_timeout", DEFAULT_BODY_TIMEOUT),
        max_concurrent_requests=section.integer("max_concurrent_requests", 1024, minimum=1),
        retry_after=section.duration("retry_after", 1.0),
    )
    section.finish()
    return settings


def _tokens(section: ConfigSection) -> tuple[str, ...]:
    tokens = section.strings("tokens")
    for index, token in enumerate(tokens):
        if not is_credential(token):
            raise ConfigurationError(f"{section.key_path('tokens')}[{index}]: {CREDENTIAL}")
    return tokens
