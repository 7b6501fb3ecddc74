"""OTLP settings: configuration, then OTEL_EXPORTER_OTLP_* variables, then defaults."""

from __future__ import annotations

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.exporter.otlp_settings import (
    OTLPSettings,
    parse_headers,
    parse_otlp_settings,
    resolve_otlp,
)
from sv_otel.server.section import ConfigSection


def test_defaults_without_configuration_or_variables() -> None:
    grpc = resolve_otlp(OTLPSettings(), "logs", http=False, environ={})
    http = resolve_otlp(OTLPSettings(), "traces", http=True, environ={})
    assert (grpc.endpoint, grpc.insecure, grpc.timeout) == ("http://localhost:4317", True, 10.0)
    assert http.endpoint == "http://localhost:4318/v1/traces"
    assert (http.compression, http.headers) == ("none", {})


def test_signal_variables_win_over_generic_ones_and_config_wins_over_both() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://generic:4318/",
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs:9999/custom",
        "OTEL_EXPORTER_OTLP_HEADERS": "api-key=generic",
        "OTEL_EXPORTER_OTLP_LOGS_HEADERS": "api-key=a%20b,x-tenant=t1",
        "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
        "OTEL_EXPORTER_OTLP_COMPRESSION": "gzip",
        "OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/ca.pem",
    }
    logs = resolve_otlp(OTLPSettings(), "logs", http=True, environ=env)
    assert logs.endpoint == "http://logs:9999/custom"  # signal-specific: as is
    assert logs.headers == {"api-key": "a b", "x-tenant": "t1"}
    assert (logs.timeout, logs.compression, logs.ca_file) == (2.5, "gzip", "/etc/ca.pem")
    traces = resolve_otlp(OTLPSettings(), "traces", http=True, environ=env)
    assert traces.endpoint == "http://generic:4318/v1/traces"  # generic: path appended
    configured = OTLPSettings(endpoint="https://cfg:4318", headers={"k": "v"}, timeout=1.0)
    chosen = resolve_otlp(configured, "logs", http=True, environ=env)
    assert (chosen.endpoint, chosen.headers, chosen.timeout) == (
        "https://cfg:4318/v1/logs",
        {"k": "v"},
        1.0,
    )
    assert chosen.insecure is False


def test_bad_variables_are_named() -> None:
    with pytest.raises(ConfigurationError, match="OTEL_EXPORTER_OTLP_TIMEOUT: expected"):
        resolve_otlp(OTLPSettings(), "logs", http=True, environ={"OTEL_EXPORTER_OTLP_TIMEOUT": "x"})
    with pytest.raises(ConfigurationError, match="expected key=value pairs, got 'oops'"):
        parse_headers("a=b,oops", "OTEL_EXPORTER_OTLP_HEADERS")


def test_yaml_settings_reject_unknown_keys_and_bad_values() -> None:
    section = ConfigSection({"endpoint": "x", "retry_on_failure": {"bogus": 1}}, "exporters.otlp")
    with pytest.raises(ConfigurationError) as raised:
        parse_otlp_settings(section, http=False)
    assert raised.value.message.startswith("exporters.otlp.retry_on_failure.bogus: unknown key")
    with pytest.raises(ConfigurationError, match=r"exporters\.otlphttp\.encoding: expected one of"):
        parse_otlp_settings(ConfigSection({"encoding": "xml"}, "exporters.otlphttp"), http=True)
    settings = parse_otlp_settings(
        ConfigSection(
            {"logs_endpoint": "http://l/v1/logs", "retry_on_failure": {"max_interval": "2s"}},
            "exporters.otlphttp",
        ),
        http=True,
    )
    assert settings.signal_endpoints == {"logs": "http://l/v1/logs"}
    assert settings.retry.max_interval == 2.0


def test_header_names_are_lower_cased_and_unsendable_headers_refused() -> None:
    section = ConfigSection({"headers": {"X-Scope-OrgID": "acme"}}, "exporters.otlp")
    assert parse_otlp_settings(section, http=False).headers == {"x-scope-orgid": "acme"}
    given = OTLPSettings(headers={"Authorization": "Bearer t"})
    assert resolve_otlp(given, "logs", http=False, environ={}).headers == {
        "authorization": "Bearer t"
    }
    env = {"OTEL_EXPORTER_OTLP_HEADERS": "X-Tenant=T1"}
    assert resolve_otlp(OTLPSettings(), "logs", http=False, environ=env).headers == {
        "x-tenant": "T1"  # values keep their case
    }
    bad_name = ConfigSection({"headers": {"bad key": "v"}}, "exporters.otlp")
    with pytest.raises(ConfigurationError) as name:
        parse_otlp_settings(bad_name, http=False)
    assert name.value.message == "exporters.otlp.headers: 'bad key' is not a valid header name"
    with pytest.raises(ConfigurationError) as value:
        parse_headers("a=line%0Abreak", "OTEL_EXPORTER_OTLP_HEADERS")
    assert value.value.message == (
        "OTEL_EXPORTER_OTLP_HEADERS: the value of 'a' has characters a header cannot carry "
        "(only printable ASCII, space and tab)"
    )


@pytest.mark.parametrize(
    ("endpoint", "http", "problem"),
    [
        ("http://[::1", True, "Invalid IPv6 URL"),
        ("ftp://collector:4317", False, "expected an http:// or https:// URL"),
        ("collector:4318", True, "expected an http:// or https:// URL"),
        ("http://collector:99999", True, "Port out of range 0-65535"),
        ("http://", False, "no host"),
    ],
)
def test_an_endpoint_that_cannot_be_reached_is_refused_at_start(
    endpoint: str, http: bool, problem: str
) -> None:
    section = ConfigSection({"endpoint": endpoint}, "exporters.otlp")
    with pytest.raises(ConfigurationError) as raised:
        parse_otlp_settings(section, http=http)
    assert raised.value.message == f"exporters.otlp.endpoint: {problem} ({endpoint!r})"
    env = {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": endpoint}
    with pytest.raises(ConfigurationError, match=r"^OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: "):
        resolve_otlp(OTLPSettings(), "logs", http=http, environ=env)


def test_grpc_endpoints_may_be_host_and_port() -> None:
    for endpoint in ("collector:4317", "[::1]:4317", "https://collector:4317"):
        settings = parse_otlp_settings(ConfigSection({"endpoint": endpoint}, "e"), http=False)
        assert resolve_otlp(settings, "logs", http=False, environ={}).endpoint == endpoint
