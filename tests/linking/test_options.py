"""Options from arguments and environment variables."""

from __future__ import annotations

import logging

import pytest

from sv_otel import ConfigurationError
from sv_otel.linking import LinkingOptions
from sv_otel.linking.environment_variables import (
    SV_OTEL_LINKING_SESSION_LINK,
    SV_OTEL_LINKING_TRUST_CLIENT_USER_ID,
    SV_OTEL_LINKING_VENDOR_ALIASES,
)


def test_defaults() -> None:
    options = LinkingOptions.resolve(environ={})
    assert options == LinkingOptions(False, frozenset(), False)
    assert options.alias_keys == ()


def test_environment_variables() -> None:
    options = LinkingOptions.resolve(
        environ={
            SV_OTEL_LINKING_SESSION_LINK: " TRUE ",
            SV_OTEL_LINKING_VENDOR_ALIASES: "posthog, Highlight,,",
            SV_OTEL_LINKING_TRUST_CLIENT_USER_ID: "true",
        }
    )
    assert options == LinkingOptions(True, frozenset({"highlight", "posthog"}), True)
    assert options.alias_keys == ("highlight.session_id", "sessionId")


def test_arguments_win_over_the_environment() -> None:
    environ = {SV_OTEL_LINKING_SESSION_LINK: "true", SV_OTEL_LINKING_VENDOR_ALIASES: "posthog"}
    options = LinkingOptions.resolve(session_link=False, vendor_aliases=(), environ=environ)
    assert options == LinkingOptions(False, frozenset(), False)


def test_malformed_variables_warn_and_fall_back(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="sv_otel.linking.options"):
        options = LinkingOptions.resolve(
            environ={
                SV_OTEL_LINKING_SESSION_LINK: "yes",
                SV_OTEL_LINKING_VENDOR_ALIASES: "posthog,datadog",
            }
        )
    assert options == LinkingOptions(False, frozenset({"posthog"}), False)
    assert [record.getMessage() for record in caplog.records] == [
        "Invalid value for SV_OTEL_LINKING_SESSION_LINK: 'yes' (expected true or false)",
        "Invalid value for SV_OTEL_LINKING_VENDOR_ALIASES: unknown alias 'datadog' ignored "
        "(known: highlight, posthog)",
    ]


def test_the_process_environment_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SV_OTEL_LINKING_VENDOR_ALIASES, "highlight")
    assert LinkingOptions.resolve().vendor_aliases == frozenset({"highlight"})


def test_unknown_alias_arguments_fail_fast() -> None:
    with pytest.raises(ConfigurationError) as error:
        LinkingOptions(vendor_aliases=frozenset({"newrelic"}))
    assert (
        error.value.message
        == "vendor_aliases: unknown alias 'newrelic' (known: highlight, posthog)"
    )
