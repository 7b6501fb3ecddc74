"""Session settings: defaults, millisecond views, and fail-fast validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.sessions.config import SessionConfig, sessions_dir


def test_defaults_and_milliseconds() -> None:
    config = SessionConfig()
    assert (config.inactivity_timeout_ms, config.max_duration_ms, config.idle_gap_ms) == (
        1_800_000, 86_400_000, 60_000,
    )  # fmt: skip
    assert (config.max_sessions, config.end_on_shutdown, config.project_id) == (
        100_000, True, "sv_otel",
    )  # fmt: skip
    assert SessionConfig(inactivity_timeout=0.5).inactivity_timeout_ms == 500
    assert sessions_dir("/data") == Path("/data/sessions")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inactivity_timeout": 0}, "SessionConfig.inactivity_timeout: expected a positive "
         "number of seconds, got 0"),
        ({"max_duration": float("inf")}, "SessionConfig.max_duration: expected a positive "
         "number of seconds, got inf"),
        ({"idle_gap": "60"}, "SessionConfig.idle_gap: expected a positive number of seconds, "
         "got '60'"),
        ({"max_sessions": 0}, "SessionConfig.max_sessions: must be at least 1"),
        ({"max_memory_bytes": 0}, "SessionConfig.max_memory_bytes: must be at least 1"),
        ({"max_file_bytes": 0}, "SessionConfig.max_file_bytes: must be at least 1"),
        ({"max_ended": -1}, "SessionConfig.max_ended: expected a non-negative integer, got -1"),
        ({"record_events": True}, "SessionConfig.record_events: expected a non-negative "
         "integer, got True"),
        ({"end_on_shutdown": 1}, "SessionConfig.end_on_shutdown: expected a boolean, got 1"),
        ({"project_id": ""}, "SessionConfig.project_id: expected a non-empty string"),
        ({"session_url": "https://x/"}, "SessionConfig.session_url: expected a template "
         "containing {session_id}, got 'https://x/'"),
    ],
)  # fmt: skip
def test_bad_settings_fail_fast(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        SessionConfig(**kwargs)
    assert caught.value.message == message
