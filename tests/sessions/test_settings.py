"""The ``sessions`` processor's YAML settings: defaults, every key, and errors naming the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.server.config import load_config, read_config_file
from sv_otel.server.registry import REGISTRY
from sv_otel.server.section import ConfigSection
from sv_otel.sessions.config import SessionConfig
from sv_otel.sessions.settings import SessionsSettings, StartSettings, parse_sessions_settings

SECRET = "0123456789abcdef0123456789abcdef"


def parse(raw: object) -> SessionsSettings:
    return parse_sessions_settings(ConfigSection(raw, "processors.sessions"))


def test_an_empty_section_is_the_library_defaults_without_the_start_endpoint() -> None:
    assert parse(None) == SessionsSettings(SessionConfig(), None)


def test_every_key_is_read() -> None:
    settings = parse(
        {
            "inactivity_timeout": "5m",
            "max_duration": "2h",
            "max_sessions": 10,
            "max_memory": "64MiB",
            "max_ended": 20,
            "max_identities": 30,
            "idle_gap": "30s",
            "end_on_shutdown": False,
            "project_id": "shop",
            "session_url": "https://replay.example.com/s/{session_id}",
            "record_events": 0,
            "max_file_size": "1MiB",
            "start": {"secret": SECRET, "token_ttl": "1h"},
        }
    )
    assert settings.config == SessionConfig(
        inactivity_timeout=300,
        max_duration=7200,
        max_sessions=10,
        max_memory_bytes=64 << 20,
        max_ended=20,
        max_identities=30,
        idle_gap=30,
        end_on_shutdown=False,
        project_id="shop",
        session_url="https://replay.example.com/s/{session_id}",
        record_events=0,
        max_file_bytes=1 << 20,
    )
    assert settings.start == StartSettings(secret=SECRET.encode(), token_ttl=3600)
    assert SECRET not in repr(settings)  # never logged


def test_tokens_last_as_long_as_a_session_can_unless_told() -> None:
    settings = parse({"max_duration": "3h", "start": {"secret": SECRET}})
    assert settings.start == StartSettings(secret=SECRET.encode(), token_ttl=3 * 3600)
    assert parse({"start": {"enabled": False}}).start is None  # no secret needed then


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"inactivity_timeout": 0}, "processors.sessions.inactivity_timeout: expected a duration "
         "above 0"),
        ({"max_duration": "soon"}, "processors.sessions.max_duration: expected a duration such as "
         "10s or 500ms, got a string ('soon')"),
        ({"max_sessions": 0}, "processors.sessions.max_sessions: expected an integer of at least "
         "1, got 0"),
        ({"record_events": -1}, "processors.sessions.record_events: expected an integer of at "
         "least 0, got -1"),
        ({"end_on_shutdown": "no"}, "processors.sessions.end_on_shutdown: expected true or false, "
         "got a string ('no')"),
        ({"project_id": ""}, "processors.sessions.project_id: expected a non-empty string"),
        ({"session_url": "https://replay.example.com/"}, "processors.sessions.session_url: "
         "expected a link template containing {session_id}, got 'https://replay.example.com/'"),
        ({"max_file_size": "huge"}, "processors.sessions.max_file_size: expected a size such as "
         "64MiB or a number of bytes, got a string ('huge')"),
        ({"max_memory": 0}, "processors.sessions.max_memory: expected a size of at least 1 "
         "byte, got 0"),
        ({"timeout": "5m"}, "processors.sessions.timeout: unknown key (expected one of: "
         "end_on_shutdown, idle_gap, inactivity_timeout, max_duration, max_ended, "
         "max_file_size, max_identities, max_memory, max_sessions, project_id, record_events, "
         "session_url, start)"),
        ({"start": None}, "processors.sessions.start.secret: required when the start endpoint "
         "is enabled (set it, or pass --session-secret or SV_OTEL_SESSION_SECRET; 32 random "
         "bytes are recommended)"),
        ({"start": {"secret": "too short"}}, "processors.sessions.start.secret: 9 bytes; the "
         "start endpoint needs at least 16 (set it, or pass --session-secret or "
         "SV_OTEL_SESSION_SECRET; 32 random bytes are recommended)"),
        ({"start": {"secret": 1234567890123456789}}, "processors.sessions.start.secret: "
         "expected a string, got a number (1234567890123456789)"),
        ({"start": {"secret": SECRET, "token_ttl": "500ms"}}, "processors.sessions.start."
         "token_ttl: expected at least 1s, got 0.5s"),
        ({"start": {"secret": SECRET, "path": "/start"}}, "processors.sessions.start.path: "
         "unknown key (expected one of: enabled, secret, token_ttl)"),
    ],
    ids=[
        "zero-timeout", "bad-duration", "no-sessions", "negative", "not-bool", "empty-project",
        "url-template", "bad-size", "zero-memory", "unknown-key", "no-secret", "short-secret",
        "number-secret", "short-ttl", "start-unknown-key",
    ],
)  # fmt: skip
def test_bad_settings_name_the_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse(raw)
    assert caught.value.message == message


def _config(processors: dict[str, Any], pipelines: dict[str, list[str]]) -> dict[str, Any]:
    return {
        "receivers": {"sessionvision": None},
        "processors": processors,
        "exporters": {"file": None},
        "service": {
            "data_dir": str(Path("unused")),
            "pipelines": {
                pipeline: {
                    "receivers": ["sessionvision"],
                    "processors": used,
                    "exporters": ["file"],
                }
                for pipeline, used in pipelines.items()
            },
        },
    }


def test_one_pipeline_only_may_use_a_sessions_processor() -> None:
    config = load_config(
        _config({"sessions": None}, {"logs": ["sessions"], "traces": []}), REGISTRY
    )
    assert config.pipelines["logs"].processors == ("sessions",)
    twice = _config({"sessions": None}, {"logs": ["sessions"], "traces": ["sessions"]})
    with pytest.raises(ConfigurationError) as caught:
        load_config(twice, REGISTRY)
    assert caught.value.message == (
        "service.pipelines: a sessions processor keeps its state in the data directory, so one "
        "pipeline only may use one; used by logs (sessions), traces (sessions)"
    )
    two = _config(
        {"sessions": None, "sessions/eu": None},
        {"logs": ["sessions"], "logs/eu": ["sessions/eu"]},
    )
    with pytest.raises(ConfigurationError, match=r"used by logs \(sessions\), logs/eu \("):
        load_config(two, REGISTRY)
    # Defined but unused is fine.
    load_config(_config({"sessions": None, "sessions/eu": None}, {"logs": ["sessions"]}), REGISTRY)


def test_the_shipped_example_configuration_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[2] / "examples" / "sessions.yaml"
    monkeypatch.delenv("SV_OTEL_SESSION_SECRET", raising=False)
    with pytest.raises(ConfigurationError, match="environment variable SV_OTEL_SESSION_SECRET"):
        read_config_file(example)
    monkeypatch.setenv("SV_OTEL_SESSION_SECRET", SECRET)
    config = load_config(read_config_file(example), REGISTRY)
    settings = config.processors["sessions"].settings
    assert isinstance(settings, SessionsSettings)
    assert (settings.config.max_duration, settings.config.end_on_shutdown) == (12 * 3600, False)
    assert settings.start == StartSettings(secret=SECRET.encode(), token_ttl=12 * 3600)
    assert config.pipelines["logs"].processors == ("sessions",)
