"""The ``otlp`` receiver's configuration block: defaults, both protocols, errors named by key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.receiver import ReceiverSettings, TLSSettings
from sv_otel.receiver.config import OTLPReceiverConfig, parse_otlp_receiver_config
from sv_otel.server.section import ConfigSection
from tests.receiver.certs import Certificates

PATH = "receivers.otlp"


def parse(raw: Any) -> OTLPReceiverConfig:
    return parse_otlp_receiver_config(ConfigSection(raw, PATH))


def error(raw: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse(raw)
    return caught.value.message


def test_no_protocols_listed_serves_both_on_loopback_defaults() -> None:
    config = parse(None)
    assert config == OTLPReceiverConfig(
        grpc=ReceiverSettings(grpc_address="127.0.0.1:4317", http_address=None),
        http=ReceiverSettings(grpc_address=None, http_address="127.0.0.1:4318"),
    )
    assert config.serves_http


def test_only_the_protocols_listed_are_served() -> None:
    config = parse({"protocols": {"grpc": {"endpoint": "0.0.0.0:14317"}}})
    assert config.http is None and not config.serves_http
    assert config.grpc is not None and config.grpc.grpc_address == "0.0.0.0:14317"
    assert parse({"protocols": {"http": None}}).grpc is None


def test_every_setting(certificates: Certificates) -> None:
    tls = {"cert_file": str(certificates.server_cert), "key_file": str(certificates.server_key)}
    config = parse(
        {
            "protocols": {
                "grpc": {
                    "endpoint": "[::1]:4317",
                    "max_recv_msg_size_mib": 16,
                    "max_in_flight_size": "32MiB",
                    "tls": tls,
                },
                "http": {
                    "endpoint": "127.0.0.1:0",
                    "max_request_body_size": "8MiB",
                    "max_in_flight_size": 1048576,
                    "read_header_timeout": "2s",
                    "read_timeout": "45s",
                    "tls": {**tls, "client_ca_file": str(certificates.ca)},
                    "cors": {
                        "allowed_origins": ["https://app.example.com", "https://*.example.org"],
                        "allowed_headers": ["X-Request-Id"],
                        "max_age": 60,
                    },
                },
            },
            "bearer_token": "s3cret",
        }
    )
    server_tls = TLSSettings(str(certificates.server_cert), str(certificates.server_key))
    assert config.grpc == ReceiverSettings(
        grpc_address="[::1]:4317",
        http_address=None,
        max_request_bytes=16 * 1024 * 1024,
        max_in_flight_bytes=32 * 1024 * 1024,
        bearer_token="s3cret",
        tls=server_tls,
    )
    assert config.http == ReceiverSettings(
        grpc_address=None,
        http_address="127.0.0.1:0",
        max_request_bytes=8 * 1024 * 1024,
        max_in_flight_bytes=1024 * 1024,
        bearer_token="s3cret",
        tls=TLSSettings(server_tls.cert_file, server_tls.key_file, str(certificates.ca)),
        cors_allowed_origins=("https://app.example.com", "https://*.example.org"),
        cors_allowed_headers=("X-Request-Id",),
        cors_max_age=60,
        read_header_timeout=2.0,
        read_timeout=45.0,
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"protocols": {"grpc": {"endpoint": "localhost"}}},
            "receivers.otlp.protocols.grpc.endpoint: expected host:port (e.g. 127.0.0.1:4317 or "
            "[::1]:4317), got 'localhost'",
        ),
        (
            {"protocols": {"grpc": {"endpont": "127.0.0.1:4317"}}},
            "receivers.otlp.protocols.grpc.endpont: unknown key (expected one of: endpoint, "
            "max_in_flight_size, max_recv_msg_size_mib, tls)",
        ),
        (
            {"protocols": {"thrift": {}}},
            "receivers.otlp.protocols.thrift: unknown key (expected one of: grpc, http)",
        ),
        (
            {"protocols": {"grpc": {"max_recv_msg_size_mib": 0}}},
            "receivers.otlp.protocols.grpc.max_recv_msg_size_mib: expected an integer of at "
            "least 1, got 0",
        ),
        (
            {"protocols": {"http": {"max_request_body_size": "lots"}}},
            "receivers.otlp.protocols.http.max_request_body_size: expected a size such as 64MiB "
            "or a number of bytes, got a string ('lots')",
        ),
        (
            {"protocols": {"http": {"cors": {"allowed_origins": ["app.example.com"]}}}},
            "receivers.otlp.protocols.http.cors.allowed_origins: expected origins like "
            "'https://app.example.com' or '*', got 'app.example.com'",
        ),
        (
            {"protocols": {"http": {"cors": {"allowed_headers": ["X Bad"]}}}},
            "receivers.otlp.protocols.http.cors.allowed_headers: not a header name: 'X Bad'",
        ),
        (
            {"bearer_token": "two words"},
            "receivers.otlp.bearer_token: expected a non-empty string of printable ASCII "
            "without spaces",
        ),
        (
            {"protocols": {"grpc": {"tls": {"cert_file": "server.pem"}}}},
            "receivers.otlp.protocols.grpc.tls.key_file: required when tls is set",
        ),
        (
            {"protocols": {"http": {"tls": {"cert_file": "/nonexistent/a", "key_file": "b"}}}},
            "receivers.otlp.protocols.http.tls.cert_file: cannot read /nonexistent/a (No such "
            "file or directory)",
        ),
    ],
)
def test_bad_values_are_named(raw: Any, message: str) -> None:
    assert error(raw) == message


def test_a_key_that_does_not_match_its_certificate(
    certificates: Certificates, tmp_path: Path
) -> None:
    tls = {"cert_file": str(certificates.server_cert), "key_file": str(certificates.client_key)}
    assert error({"protocols": {"grpc": {"tls": tls}}}) == (
        f"receivers.otlp.protocols.grpc.tls: cannot use {certificates.server_cert}, "
        f"{certificates.client_key} (KEY_VALUES_MISMATCH)"
    )
    garbage = tmp_path / "ca.pem"
    garbage.write_text("not a certificate")
    tls = {
        "cert_file": str(certificates.server_cert),
        "key_file": str(certificates.server_key),
        "client_ca_file": str(garbage),
    }
    assert error({"protocols": {"http": {"tls": tls}}}).startswith(
        f"receivers.otlp.protocols.http.tls: cannot use {certificates.server_cert}, "
        f"{certificates.server_key} and {garbage} ("
    )
