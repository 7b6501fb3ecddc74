"""Receiver settings: defaults and every refused value."""

from __future__ import annotations

from typing import Any

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.receiver import ReceiverSettings, TLSSettings
from sv_otel.receiver.settings import split_address


def test_defaults_follow_the_specification_on_loopback() -> None:
    settings = ReceiverSettings()
    assert settings.grpc_address == "127.0.0.1:4317"
    assert settings.http_address == "127.0.0.1:4318"
    assert settings.max_request_bytes == 64 * 1024 * 1024
    assert settings.bearer_token is None and settings.tls is None
    assert settings.cors_allowed_origins == ()


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("127.0.0.1:4317", ("127.0.0.1", 4317)),
        ("[::1]:0", ("::1", 0)),
        (":4318", ("0.0.0.0", 4318)),
        ("localhost:65535", ("localhost", 65535)),
    ],
)
def test_split_address(address: str, expected: tuple[str, int]) -> None:
    assert split_address(address) == expected


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"grpc_address": "4317"},
            "ReceiverSettings.grpc_address: expected host:port (e.g. 127.0.0.1:4317 or "
            "[::1]:4317), got '4317'",
        ),
        (
            {"http_address": "localhost:70000"},
            "ReceiverSettings.http_address: expected host:port (e.g. 127.0.0.1:4317 or "
            "[::1]:4317), got 'localhost:70000'",
        ),
        (
            {"grpc_address": None, "http_address": None},
            "ReceiverSettings: both grpc_address and http_address are None; enable one",
        ),
        (
            {"max_request_bytes": 0},
            "ReceiverSettings.max_request_bytes: expected a positive integer, got 0",
        ),
        (
            {"bearer_token": "two words"},
            "ReceiverSettings.bearer_token: expected a non-empty string of printable ASCII "
            "without spaces",
        ),
        (
            {"cors_allowed_origins": ("example.com",)},
            "ReceiverSettings.cors_allowed_origins: expected origins like "
            "'https://app.example.com' or '*', got 'example.com'",
        ),
        (
            {"cors_allowed_headers": ("X Bad",)},
            "ReceiverSettings.cors_allowed_headers: not a header name: 'X Bad'",
        ),
        ({"cors_max_age": -1}, "ReceiverSettings.cors_max_age: expected seconds >= 0, got -1"),
        (
            {"max_in_flight_bytes": 0},
            "ReceiverSettings.max_in_flight_bytes: expected a positive integer, got 0",
        ),
        (
            {"read_header_timeout": 0},
            "ReceiverSettings.read_header_timeout: expected seconds > 0, got 0",
        ),
        (
            {"read_timeout": -1.0},
            "ReceiverSettings.read_timeout: expected seconds > 0, got -1.0",
        ),
        (
            {"read_header_timeout": float("inf")},
            "ReceiverSettings.read_header_timeout: expected seconds > 0, got inf",
        ),
    ],
)
def test_bad_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ReceiverSettings(**overrides)
    assert caught.value.message == message


def test_tls_settings_need_paths() -> None:
    with pytest.raises(ConfigurationError) as caught:
        TLSSettings(cert_file="", key_file="key.pem")
    assert caught.value.message == "TLSSettings.cert_file: expected a file path, got ''"


def test_from_mapping_reads_a_configuration_block() -> None:
    settings = ReceiverSettings.from_mapping(
        {
            "grpc_address": None,
            "http_address": "0.0.0.0:4318",
            "max_request_bytes": 1024,
            "bearer_token": "s3cret",
            "tls": {"cert_file": "server.pem", "key_file": "key.pem", "client_ca_file": "ca.pem"},
            "cors_allowed_origins": ["https://app.example.com"],
            "cors_allowed_headers": ["X-Request-Id"],
            "cors_max_age": 60,
            "read_header_timeout": 2.5,
            "read_timeout": 30,
        }
    )
    assert settings == ReceiverSettings(
        grpc_address=None,
        http_address="0.0.0.0:4318",
        max_request_bytes=1024,
        bearer_token="s3cret",
        tls=TLSSettings("server.pem", "key.pem", "ca.pem"),
        cors_allowed_origins=("https://app.example.com",),
        cors_allowed_headers=("X-Request-Id",),
        cors_max_age=60,
        read_header_timeout=2.5,
        read_timeout=30.0,
    )
    assert ReceiverSettings.from_mapping({}) == ReceiverSettings()


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {"port": 4317},
            "otlp receiver: unknown setting 'port'; known: grpc_address, http_address, "
            "max_request_bytes, max_in_flight_bytes, bearer_token, tls, cors_allowed_origins, "
            "cors_allowed_headers, cors_max_age, read_header_timeout, read_timeout",
        ),
        (
            {"read_header_timeout": "10s"},
            "otlp receiver: read_header_timeout: expected seconds, got '10s'",
        ),
        ({"grpc_address": 4317}, "otlp receiver: grpc_address: expected a string, got 4317"),
        (
            {"max_request_bytes": "64MiB"},
            "otlp receiver: max_request_bytes: expected an integer, got '64MiB'",
        ),
        ({"tls": "yes"}, "otlp receiver: tls: expected a mapping, got 'yes'"),
        ({"tls": {"cert_file": "c.pem"}}, "otlp receiver: tls: 'key_file' is required"),
        (
            {"tls": {"cert_file": "c", "key_file": "k", "ca": "x"}},
            "otlp receiver: tls: unknown setting 'ca'; known: cert_file, key_file, client_ca_file",
        ),
        (
            {"cors_allowed_origins": "https://a.example"},
            "otlp receiver: cors_allowed_origins: expected a list of strings, got "
            "'https://a.example'",
        ),
        (
            {"http_address": "nowhere"},
            "ReceiverSettings.http_address: expected host:port (e.g. 127.0.0.1:4317 or "
            "[::1]:4317), got 'nowhere'",
        ),
    ],
)
def test_from_mapping_errors(mapping: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        ReceiverSettings.from_mapping(mapping)
    assert caught.value.message == message
