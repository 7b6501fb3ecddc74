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
            "ReceiverSettings.bearer_token: expected a non-empty printable string without spaces",
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
