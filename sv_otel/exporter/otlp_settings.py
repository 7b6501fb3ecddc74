"""OTLP exporter settings: configuration first, then the standard ``OTEL_EXPORTER_OTLP_*``
variables (signal-specific before generic), then the specification's defaults.

=====================================  ==========================  ===========================
setting (YAML key)                     variables                   default
=====================================  ==========================  ===========================
``endpoint``                           ``..._ENDPOINT``            gRPC ``http://localhost:4317``,
                                                                   HTTP ``http://localhost:4318``
``headers``                            ``..._HEADERS``             none
``compression`` (``gzip``/``none``)    ``..._COMPRESSION``         none
``timeout``                            ``..._TIMEOUT`` (ms)        10 s
``tls.ca_file``                        ``..._CERTIFICATE``         system roots
``tls.cert_file`` / ``tls.key_file``   ``..._CLIENT_CERTIFICATE``  none
                                       / ``..._CLIENT_KEY``
``tls.insecure`` (gRPC)                ``..._INSECURE``            from the scheme
=====================================  ==========================  ===========================

``...`` is ``OTEL_EXPORTER_OTLP`` or ``OTEL_EXPORTER_OTLP_LOGS`` / ``_TRACES``. For OTLP/HTTP a
generic endpoint (config ``endpoint`` or ``OTEL_EXPORTER_OTLP_ENDPOINT``) gets ``/v1/logs`` or
``/v1/traces`` appended; a signal-specific one (``logs_endpoint`` / ``traces_endpoint`` or
``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT``) is used as is.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field

from sv_otel.errors import ConfigurationError
from sv_otel.exporter.retry import RetryPolicy
from sv_otel.headers import checked_header, checked_headers
from sv_otel.server.section import ConfigSection

__all__ = [
    "OTLPSettings",
    "parse_headers",
    "parse_otlp_settings",
    "resolve_otlp",
]

_PATHS = {"logs": "v1/logs", "traces": "v1/traces"}
_DEFAULT_ENDPOINTS = {"grpc": "http://localhost:4317", "http": "http://localhost:4318"}


@dataclass(frozen=True)
class OTLPSettings:
    """What the YAML said; ``None`` = not set (fall back to the variables)."""

    endpoint: str | None = None
    signal_endpoints: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] | None = None
    compression: str | None = None
    timeout: float | None = None
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    insecure: bool | None = None
    encoding: str = "proto"
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class ResolvedOTLP:
    """The settings in force for one signal."""

    endpoint: str
    headers: dict[str, str]
    compression: str
    timeout: float
    ca_file: str | None
    cert_file: str | None
    key_file: str | None
    insecure: bool


def parse_otlp_settings(section: ConfigSection, *, http: bool) -> OTLPSettings:
    """Read the ``otlp`` (gRPC) or ``otlphttp`` exporter's YAML mapping."""
    signal_endpoints: dict[str, str] = {}
    if http:
        for signal in _PATHS:
            value = section.string(f"{signal}_endpoint", None)
            if value is not None:
                key = f"{signal}_endpoint"
                signal_endpoints[signal] = _checked_endpoint(value, section.key_path(key), http)
    endpoint = section.string("endpoint", None)
    if endpoint is not None:
        endpoint = _checked_endpoint(endpoint, section.key_path("endpoint"), http)
    tls = section.section("tls")
    insecure = tls.value("insecure")
    if insecure is not None and not isinstance(insecure, bool):
        raise tls.error("insecure", "expected true or false")
    compression = section.value("compression")
    if compression is not None and compression not in ("gzip", "none"):
        raise section.error("compression", f"expected gzip or none, got {compression!r}")
    policy = RetryPolicy.from_section(section.section("retry_on_failure"))
    settings = OTLPSettings(
        endpoint=endpoint,
        signal_endpoints=signal_endpoints,
        headers=(
            _lower(checked_headers(section.string_map("headers"), section.key_path("headers")))
            if section.has("headers")
            else None
        ),
        compression=compression if isinstance(compression, str) else None,
        timeout=section.duration("timeout", 0.0) if section.has("timeout") else None,
        ca_file=tls.string("ca_file", None),
        cert_file=tls.string("cert_file", None),
        key_file=tls.string("key_file", None),
        insecure=insecure,
        encoding=section.choice("encoding", "proto", ("proto", "json")) if http else "proto",
        retry=policy,
    )
    tls.finish()
    section.finish()
    return settings


def resolve_otlp(
    settings: OTLPSettings, signal: str, *, http: bool, environ: Mapping[str, str] | None = None
) -> ResolvedOTLP:
    """Merge ``settings`` with the ``OTEL_EXPORTER_OTLP_*`` variables for ``signal``.

    Raises:
        ConfigurationError: a malformed variable (named).
    """
    env = os.environ if environ is None else environ
    prefix = f"OTEL_EXPORTER_OTLP_{signal.upper()}_"

    def var(name: str) -> tuple[str, str] | None:
        for key in (prefix + name, "OTEL_EXPORTER_OTLP_" + name):
            if env.get(key, "").strip():
                return key, env[key].strip()
        return None

    endpoint = _endpoint(settings, signal, http, env)
    headers = (
        _lower(checked_headers(dict(settings.headers), "headers"))
        if settings.headers is not None
        else None
    )
    if headers is None:
        found = var("HEADERS")
        headers = parse_headers(found[1], found[0]) if found else {}
    compression = settings.compression
    if compression is None:
        found = var("COMPRESSION")
        compression = found[1].lower() if found else "none"
        if compression not in ("gzip", "none"):
            raise ConfigurationError(f"{found[0] if found else ''}: expected gzip or none")
    timeout = settings.timeout
    if timeout is None:
        found = var("TIMEOUT")
        timeout = _milliseconds(found) if found else 10.0
    insecure = settings.insecure
    if insecure is None:
        found = var("INSECURE")
        insecure = found[1].lower() == "true" if found else endpoint.startswith("http://")
    return ResolvedOTLP(
        endpoint=endpoint,
        headers=headers,
        compression=compression,
        timeout=timeout,
        ca_file=settings.ca_file or _value(var("CERTIFICATE")),
        cert_file=settings.cert_file or _value(var("CLIENT_CERTIFICATE")),
        key_file=settings.key_file or _value(var("CLIENT_KEY")),
        insecure=insecure,
    )


def parse_headers(value: str, where: str) -> dict[str, str]:
    """``key1=value1,key2=value2`` (values URL-decoded) as a dict, names lower-cased.

    Raises:
        ConfigurationError: an entry without ``=``, or a header that cannot be sent (naming
            ``where``).
    """
    headers: dict[str, str] = {}
    for entry in value.split(","):
        if not entry.strip():
            continue
        key, sep, raw = entry.partition("=")
        if not sep or not key.strip():
            raise ConfigurationError(f"{where}: expected key=value pairs, got {entry.strip()!r}")
        name, text = checked_header(
            urllib.parse.unquote(key.strip()), urllib.parse.unquote(raw.strip()), where
        )
        headers[name.lower()] = text
    return headers


def _lower(headers: dict[str, str]) -> dict[str, str]:
    """Header names lower-cased: gRPC metadata requires it (and HTTP does not mind)."""
    return {name.lower(): value for name, value in headers.items()}


def _endpoint(settings: OTLPSettings, signal: str, http: bool, env: Mapping[str, str]) -> str:
    """The endpoint for ``signal``, checked (see :func:`_checked_endpoint`)."""
    specific = settings.signal_endpoints.get(signal)
    if specific:
        return _checked_endpoint(specific, f"{signal}_endpoint", http)
    if settings.endpoint:
        endpoint = _checked_endpoint(settings.endpoint, "endpoint", http)
        return _join(endpoint, signal) if http else endpoint
    name = f"OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT"
    specific = env.get(name, "").strip()
    if specific:
        return _checked_endpoint(specific, name, http)
    name = "OTEL_EXPORTER_OTLP_ENDPOINT"
    base = env.get(name, "").strip() or _DEFAULT_ENDPOINTS["http" if http else "grpc"]
    base = _checked_endpoint(base, name, http)
    return _join(base, signal) if http else base


def _checked_endpoint(endpoint: str, where: str, http: bool) -> str:
    """``endpoint`` if it is an ``http://`` or ``https://`` URL with a host (and a valid port);
    for gRPC a bare ``host:port`` is accepted too, as the Collector accepts it.

    Raises:
        ConfigurationError: naming ``where`` and what is wrong.
    """
    url = endpoint if "://" in endpoint or http else "//" + endpoint
    problem = None
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        problem = str(error)
    else:
        if parts.scheme not in (("http", "https") if "://" in url or http else ("",)):
            problem = "expected an http:// or https:// URL"
        elif not parts.hostname:
            problem = "no host"
    if problem is not None:
        raise ConfigurationError(f"{where}: {problem} ({endpoint!r})")
    return endpoint


def _join(base: str, signal: str) -> str:
    return base.rstrip("/") + "/" + _PATHS[signal]


def _milliseconds(found: tuple[str, str]) -> float:
    key, value = found
    try:
        return float(value) / 1000.0
    except ValueError:
        raise ConfigurationError(f"{key}: expected milliseconds, got {value!r}") from None


def _value(found: tuple[str, str] | None) -> str | None:
    return found[1] if found else None
