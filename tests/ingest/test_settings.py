"""Settings of the sessionvision receiver from its YAML mapping."""

from __future__ import annotations

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.ingest.settings import IngestSettings, parse_ingest_settings
from sv_otel.server.section import ConfigSection


def parse(raw: object) -> IngestSettings:
    return parse_ingest_settings(ConfigSection(raw, "receivers.sessionvision"))


def test_defaults() -> None:
    settings = parse(None)
    assert settings.http_endpoint == ("127.0.0.1", 8080)
    assert settings.grpc_endpoint is None
    assert settings.cors.allows("https://any.example")
    assert "X-Sessionvision-Token" in settings.cors.allowed_headers
    assert (settings.max_request_bytes, settings.limits.max_body_bytes) == (10 << 20, 10 << 20)


def test_grpc_only_and_a_custom_token_header() -> None:
    settings = parse({"protocols": {"grpc": {"endpoint": "0.0.0.0:4320"}}, "token_header": "X-K"})
    assert settings.http_endpoint is None
    assert settings.grpc_endpoint == ("0.0.0.0", 4320)
    assert settings.token_header == "X-K"


def test_limits_and_timeouts() -> None:
    settings = parse(
        {"max_body_bytes": "1MiB", "max_events": 50, "body_timeout": "2s", "retry_after": 3}
    )
    assert settings.limits.max_body_bytes == 1 << 20
    assert settings.max_request_bytes == 1 << 20  # follows max_body_bytes unless set
    assert (settings.limits.max_events, settings.body_timeout, settings.retry_after) == (50, 2, 3)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"protocols": {"http": {"cors": {"allowed_origin": []}}}},
            "receivers.sessionvision.protocols.http.cors.allowed_origin: unknown key",
        ),
        ({"protocols": {"udp": {}}}, "receivers.sessionvision.protocols.udp: unknown key"),
        (
            {"max_events": 0},
            "receivers.sessionvision.max_events: expected an integer of at least 1",
        ),
        ({"tokens": "abc"}, "receivers.sessionvision.tokens: expected a list of strings"),
        # An empty token (an empty variable) would admit every client sending an empty one.
        (
            {"tokens": ["sv_pub_1", ""]},
            "receivers.sessionvision.tokens[1]: expected a non-empty string of printable ASCII",
        ),
        (
            {"tokens": ["two words"]},
            "receivers.sessionvision.tokens[0]: expected a non-empty string of printable ASCII",
        ),
    ],
)
def test_bad_settings_name_the_key(raw: object, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse(raw)
    assert raised.value.message.startswith(message)
