"""Settings of the OTLP receiver: addresses, limits, auth, TLS and CORS, checked at start-up.

One frozen value object serves both transports, so ``sv-otel serve`` (or a test) builds it once::

    settings = ReceiverSettings(
        grpc_address="0.0.0.0:4317",
        http_address="0.0.0.0:4318",
        bearer_token=os.environ["SV_OTEL_RECEIVER_TOKEN"],
        cors_allowed_origins=("https://app.example.com",),
    )

Every bad value raises :class:`~sv_otel.errors.ConfigurationError` naming the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from sv_otel.errors import ConfigurationError
from sv_otel.headers import CREDENTIAL, is_credential

__all__ = [
    "DEFAULT_GRPC_ADDRESS",
    "DEFAULT_HEADER_TIMEOUT",
    "DEFAULT_HTTP_ADDRESS",
    "DEFAULT_MAX_IN_FLIGHT_BYTES",
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "ReceiverSettings",
    "TLSSettings",
    "is_cors_origin",
    "split_address",
]

DEFAULT_GRPC_ADDRESS: Final = "127.0.0.1:4317"
"""OTLP/gRPC's default port, on loopback only: listening on every interface is a choice."""

DEFAULT_HTTP_ADDRESS: Final = "127.0.0.1:4318"
"""OTLP/HTTP's default port, on loopback only."""

DEFAULT_MAX_REQUEST_BYTES: Final = 64 * 1024 * 1024
"""The largest request accepted, after decompression: 64 MiB, as the OTLP specification advises."""

DEFAULT_MAX_IN_FLIGHT_BYTES: Final = 256 * 1024 * 1024
"""The most bytes of requests (raw and decompressed) one transport holds at once: 256 MiB."""

DEFAULT_HEADER_TIMEOUT: Final = 10.0
"""Seconds an HTTP connection may take to send a request's headers (slow-loris protection)."""

DEFAULT_READ_TIMEOUT: Final = 60.0
"""Seconds an HTTP request's body may take to arrive once its headers are in."""

_ADDRESS = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[^:\[\]]*)):(?P<port>[0-9]{1,5})")
_ORIGIN = re.compile(r"(?:\*|[a-z][a-z0-9+.-]*://[^/\s]+)")


@dataclass(frozen=True, slots=True)
class TLSSettings:
    """Server TLS: a certificate chain and its key, and optionally a CA for client certificates.

    Attributes:
        cert_file: PEM file with the server certificate (and its chain).
        key_file: PEM file with the server's private key.
        client_ca_file: PEM file of the CA(s) that sign client certificates; when set, clients
            must present one (mutual TLS).
    """

    cert_file: str
    key_file: str
    client_ca_file: str | None = None

    def __post_init__(self) -> None:
        for name in ("cert_file", "key_file", "client_ca_file"):
            value = getattr(self, name)
            if value is not None and (type(value) is not str or not value):
                raise ConfigurationError(f"TLSSettings.{name}: expected a file path, got {value!r}")


@dataclass(frozen=True, slots=True)
class ReceiverSettings:
    """How the OTLP receiver listens and what it accepts.

    Attributes:
        grpc_address: ``host:port`` for OTLP/gRPC (``[::1]:4317`` for IPv6; port 0 picks a free
            one), or None to disable gRPC.
        http_address: ``host:port`` for OTLP/HTTP, or None to disable it.
        max_request_bytes: the largest request body, counted after decompression, on both
            transports; larger ones get HTTP 413 / gRPC ``RESOURCE_EXHAUSTED``.
        max_in_flight_bytes: the most bytes of request bodies (raw and decompressed) and of
            the events being made of them (estimated, 512 bytes a record) each transport holds
            at once; a request past it gets 503 / ``UNAVAILABLE`` with a retry hint (a lone
            request is always admitted, unless its events alone would take more: 413).
        bearer_token: when set, every request must carry ``Authorization: Bearer <token>``
            (HTTP header or gRPC metadata); others get 401 / ``UNAUTHENTICATED``.
        tls: serve TLS (and mutual TLS when ``tls.client_ca_file`` is set) on both transports.
        cors_allowed_origins: origins allowed to post from a browser, e.g.
            ``("https://app.example.com", "https://*.example.org")``, or ``("*",)`` for any;
            empty turns CORS off.
        cors_allowed_headers: request headers allowed besides ``Content-Type``,
            ``Content-Encoding`` and ``Authorization``.
        cors_max_age: seconds a browser may cache a preflight answer.
        read_header_timeout: seconds an HTTP connection may take to send a request's headers;
            a slower one gets 408 and is closed (an idle keep-alive connection is closed
            silently). Headers over 64 KiB get 431.
        read_timeout: seconds an HTTP request's body may take to arrive once its headers are
            in; a slower one gets 408 and the connection is closed.
    """

    grpc_address: str | None = DEFAULT_GRPC_ADDRESS
    http_address: str | None = DEFAULT_HTTP_ADDRESS
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    max_in_flight_bytes: int = DEFAULT_MAX_IN_FLIGHT_BYTES
    bearer_token: str | None = None
    tls: TLSSettings | None = None
    cors_allowed_origins: tuple[str, ...] = ()
    cors_allowed_headers: tuple[str, ...] = ()
    cors_max_age: int = 7200
    read_header_timeout: float = DEFAULT_HEADER_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT

    def __post_init__(self) -> None:
        for name in ("grpc_address", "http_address"):
            value = getattr(self, name)
            if value is not None:
                split_address(value, f"ReceiverSettings.{name}")
        if self.grpc_address is None and self.http_address is None:
            raise ConfigurationError(
                "ReceiverSettings: both grpc_address and http_address are None; enable one"
            )
        for name in ("max_request_bytes", "max_in_flight_bytes"):
            value = getattr(self, name)
            if type(value) is not int or value < 1:
                raise ConfigurationError(
                    f"ReceiverSettings.{name}: expected a positive integer, got {value!r}"
                )
        token = self.bearer_token
        if token is not None and not is_credential(token):
            raise ConfigurationError(f"ReceiverSettings.bearer_token: {CREDENTIAL}")
        for origin in self.cors_allowed_origins:
            if not is_cors_origin(origin):
                raise ConfigurationError(
                    "ReceiverSettings.cors_allowed_origins: expected origins like "
                    f"'https://app.example.com' or '*', got {origin!r}"
                )
        for header in self.cors_allowed_headers:
            if type(header) is not str or not header or not header.isascii() or " " in header:
                raise ConfigurationError(
                    f"ReceiverSettings.cors_allowed_headers: not a header name: {header!r}"
                )
        if type(self.cors_max_age) is not int or self.cors_max_age < 0:
            raise ConfigurationError(
                f"ReceiverSettings.cors_max_age: expected seconds >= 0, got {self.cors_max_age!r}"
            )
        for name in ("read_header_timeout", "read_timeout"):
            timeout = getattr(self, name)
            if type(timeout) not in (int, float) or not 0 < timeout < math.inf:
                raise ConfigurationError(
                    f"ReceiverSettings.{name}: expected seconds > 0, got {timeout!r}"
                )

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, object]) -> ReceiverSettings:
        """Read a flat configuration mapping, for programs that embed the receiver::

            grpc_address: 0.0.0.0:4317   # null disables gRPC
            http_address: 0.0.0.0:4318   # null disables HTTP
            max_request_bytes: 67108864
            max_in_flight_bytes: 268435456
            bearer_token: s3cret
            tls: {cert_file: server.pem, key_file: server-key.pem, client_ca_file: ca.pem}
            cors_allowed_origins: [https://app.example.com]
            read_header_timeout: 10
            read_timeout: 60

        Missing keys keep their defaults.

        Raises:
            ConfigurationError: an unknown key or a bad value, named.
        """
        known = {name: getattr(cls(), name) for name in cls.__slots__}
        unknown = sorted(set(mapping) - set(known))
        if unknown:
            raise ConfigurationError(
                f"otlp receiver: unknown setting {unknown[0]!r}; known: {', '.join(known)}"
            )
        get = mapping.get
        tls = get("tls")
        if tls is not None and not isinstance(tls, Mapping):
            raise ConfigurationError(f"otlp receiver: tls: expected a mapping, got {tls!r}")
        return cls(
            grpc_address=_text(get("grpc_address", DEFAULT_GRPC_ADDRESS), "grpc_address"),
            http_address=_text(get("http_address", DEFAULT_HTTP_ADDRESS), "http_address"),
            max_request_bytes=_integer(
                get("max_request_bytes", DEFAULT_MAX_REQUEST_BYTES), "max_request_bytes"
            ),
            max_in_flight_bytes=_integer(
                get("max_in_flight_bytes", DEFAULT_MAX_IN_FLIGHT_BYTES), "max_in_flight_bytes"
            ),
            bearer_token=_text(get("bearer_token"), "bearer_token"),
            tls=None if tls is None else _tls(tls),
            cors_allowed_origins=_texts(get("cors_allowed_origins", ()), "cors_allowed_origins"),
            cors_allowed_headers=_texts(get("cors_allowed_headers", ()), "cors_allowed_headers"),
            cors_max_age=_integer(get("cors_max_age", known["cors_max_age"]), "cors_max_age"),
            read_header_timeout=_seconds(
                get("read_header_timeout", DEFAULT_HEADER_TIMEOUT), "read_header_timeout"
            ),
            read_timeout=_seconds(get("read_timeout", DEFAULT_READ_TIMEOUT), "read_timeout"),
        )


def _text(value: object, name: str) -> str | None:
    if value is None or type(value) is str:
        return value
    raise ConfigurationError(f"otlp receiver: {name}: expected a string, got {value!r}")


def _integer(value: object, name: str) -> int:
    if type(value) is int:
        return value
    raise ConfigurationError(f"otlp receiver: {name}: expected an integer, got {value!r}")


def _seconds(value: object, name: str) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise ConfigurationError(f"otlp receiver: {name}: expected seconds, got {value!r}")


def _texts(value: object, name: str) -> tuple[str, ...]:
    if isinstance(value, (list, tuple)) and all(type(item) is str for item in value):
        return tuple(value)
    raise ConfigurationError(f"otlp receiver: {name}: expected a list of strings, got {value!r}")


def _tls(mapping: Mapping[str, object]) -> TLSSettings:
    names = ("cert_file", "key_file", "client_ca_file")
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        raise ConfigurationError(
            f"otlp receiver: tls: unknown setting {unknown[0]!r}; known: {', '.join(names)}"
        )
    for name in names[:2]:
        if name not in mapping:
            raise ConfigurationError(f"otlp receiver: tls: {name!r} is required")
    cert_file = _text(mapping["cert_file"], "tls.cert_file")
    key_file = _text(mapping["key_file"], "tls.key_file")
    client_ca_file = _text(mapping.get("client_ca_file"), "tls.client_ca_file")
    if cert_file is None or key_file is None:
        raise ConfigurationError("otlp receiver: tls: cert_file and key_file must be paths")
    return TLSSettings(cert_file, key_file, client_ca_file)


def is_cors_origin(origin: object) -> bool:
    """Whether ``origin`` is an allowed-origin entry: ``scheme://host[:port]`` (the host may
    hold ``*`` wildcards, e.g. ``https://*.example.org``) or ``*`` alone."""
    return type(origin) is str and _ORIGIN.fullmatch(origin) is not None


def split_address(address: str, where: str = "address") -> tuple[str, int]:
    """Split ``host:port`` (or ``[v6]:port``) into host and port.

    Raises:
        ConfigurationError: not of that form, or the port is over 65535.
    """
    match = _ADDRESS.fullmatch(address) if type(address) is str else None
    if match is None or int(match["port"]) > 65535:
        raise ConfigurationError(
            f"{where}: expected host:port (e.g. 127.0.0.1:4317 or [::1]:4317), got {address!r}"
        )
    host = match["v6"] if match["v6"] is not None else match["host"]
    return host or "0.0.0.0", int(match["port"])
