"""The ``otlp`` receiver's block in ``sv-otel serve``'s configuration, in the Collector's words.

::

    receivers:
      otlp:
        protocols:                    # the protocols listed are served; none listed: both
          grpc:
            endpoint: 127.0.0.1:4317  # --otlp-grpc-address
            max_recv_msg_size_mib: 64 # after decompression; larger: RESOURCE_EXHAUSTED
            max_in_flight_size: 256MiB  # requests held at once; past it: UNAVAILABLE, retry
            tls: {cert_file: server.pem, key_file: server.key, client_ca_file: ca.pem}
          http:
            endpoint: 127.0.0.1:4318  # --otlp-http-address
            max_request_body_size: 64MiB  # raw and after decompression; larger: 413
            max_in_flight_size: 256MiB  # raw and decompressed, held at once; past it: 503
            read_header_timeout: 10s  # slower request headers: 408 and the connection closed
            read_timeout: 60s         # a slower body (after the headers): the same
            tls: {cert_file: server.pem, key_file: server.key}
            cors: {allowed_origins: ["https://*.example.com"], allowed_headers: [], max_age: 7200}
        bearer_token: ${env:SV_OTEL_OTLP_TOKEN}  # both protocols; absent: no authentication

Each protocol becomes its own :class:`~sv_otel.receiver.settings.ReceiverSettings` (with the
other protocol's address None). TLS files are read here, so a missing or mismatched certificate
is reported before any worker starts.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Final

from sv_otel.errors import ConfigurationError
from sv_otel.headers import CREDENTIAL, is_credential
from sv_otel.receiver.settings import (
    DEFAULT_GRPC_ADDRESS,
    DEFAULT_HEADER_TIMEOUT,
    DEFAULT_HTTP_ADDRESS,
    DEFAULT_MAX_IN_FLIGHT_BYTES,
    DEFAULT_MAX_REQUEST_BYTES,
    DEFAULT_READ_TIMEOUT,
    ReceiverSettings,
    TLSSettings,
    is_cors_origin,
    split_address,
)
from sv_otel.server.section import ConfigSection

__all__ = ["OTLPReceiverConfig", "parse_otlp_receiver_config"]

_MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class OTLPReceiverConfig:
    """The parsed ``otlp`` receiver block.

    Attributes:
        grpc: the gRPC protocol's settings (``http_address`` None), or None when not served.
        http: the HTTP protocol's settings (``grpc_address`` None), or None when not served.
    """

    grpc: ReceiverSettings | None
    http: ReceiverSettings | None

    @property
    def serves_http(self) -> bool:
        """Whether the HTTP protocol is served (it can then carry the health routes)."""
        return self.http is not None


def parse_otlp_receiver_config(section: ConfigSection) -> OTLPReceiverConfig:
    """Read a ``receivers.otlp`` section (see the module docstring).

    Raises:
        ConfigurationError: an unknown key or a bad value, named by its dotted path.
    """
    protocols = section.section("protocols")
    both = not protocols.raw
    listed = {name: both or protocols.has(name) for name in ("grpc", "http")}
    sections = {name: protocols.section(name) for name in listed}
    token = section.string("bearer_token", None)
    if token is not None and not is_credential(token):
        raise section.error("bearer_token", CREDENTIAL)
    grpc = http = None
    if listed["grpc"]:
        raw = sections["grpc"]
        grpc = ReceiverSettings(
            grpc_address=_endpoint(raw, DEFAULT_GRPC_ADDRESS),
            http_address=None,
            max_request_bytes=raw.integer("max_recv_msg_size_mib", 64, minimum=1) * _MIB,
            max_in_flight_bytes=raw.size("max_in_flight_size", DEFAULT_MAX_IN_FLIGHT_BYTES),
            bearer_token=token,
            tls=_tls(raw),
        )
        raw.finish()
    if listed["http"]:
        raw = sections["http"]
        cors = raw.section("cors")
        http = ReceiverSettings(
            grpc_address=None,
            http_address=_endpoint(raw, DEFAULT_HTTP_ADDRESS),
            max_request_bytes=raw.size("max_request_body_size", DEFAULT_MAX_REQUEST_BYTES),
            max_in_flight_bytes=raw.size("max_in_flight_size", DEFAULT_MAX_IN_FLIGHT_BYTES),
            bearer_token=token,
            tls=_tls(raw),
            cors_allowed_origins=_origins(cors),
            cors_allowed_headers=_headers(cors),
            cors_max_age=cors.integer("max_age", 7200),
            read_header_timeout=raw.duration("read_header_timeout", DEFAULT_HEADER_TIMEOUT),
            read_timeout=raw.duration("read_timeout", DEFAULT_READ_TIMEOUT),
        )
        cors.finish()
        raw.finish()
    protocols.finish()
    section.finish()
    return OTLPReceiverConfig(grpc, http)


def _endpoint(section: ConfigSection, default: str) -> str:
    address = section.string("endpoint", default)
    split_address(address, section.key_path("endpoint"))
    return address


def _origins(cors: ConfigSection) -> tuple[str, ...]:
    origins = cors.strings("allowed_origins")
    for origin in origins:
        if not is_cors_origin(origin):
            raise cors.error(
                "allowed_origins",
                f"expected origins like 'https://app.example.com' or '*', got {origin!r}",
            )
    return origins


def _headers(cors: ConfigSection) -> tuple[str, ...]:
    headers = cors.strings("allowed_headers")
    for header in headers:
        if not header or not header.isascii() or " " in header:
            raise cors.error("allowed_headers", f"not a header name: {header!r}")
    return headers


def _tls(protocol: ConfigSection) -> TLSSettings | None:
    if protocol.value("tls") is None:
        return None
    tls = protocol.section("tls")
    files = {key: tls.string(key, None) for key in ("cert_file", "key_file", "client_ca_file")}
    tls.finish()
    for key in ("cert_file", "key_file"):
        if not files[key]:
            raise tls.error(key, "required when tls is set")
    for key, path in files.items():
        if path is not None:
            _readable(tls, key, path)
    cert_file, key_file, client_ca_file = files.values()
    assert cert_file is not None and key_file is not None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert_file, key_file)
        if client_ca_file is not None:
            context.load_verify_locations(client_ca_file)
    except ssl.SSLError as error:
        raise ConfigurationError(
            f"{tls.path}: cannot use {cert_file}, {key_file}"
            + (f" and {client_ca_file}" if client_ca_file else "")
            + f" ({error.reason or error})"
        ) from None
    return TLSSettings(cert_file, key_file, client_ca_file)


def _readable(tls: ConfigSection, key: str, path: str) -> None:
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as error:
        raise tls.error(key, f"cannot read {path} ({error.strerror or error})") from None
