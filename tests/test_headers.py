"""Configured request headers: checked at start-up, so every request can carry them."""

from __future__ import annotations

import pytest

from sv_otel.errors import ConfigurationError
from sv_otel.headers import checked_header, checked_headers, is_credential
from sv_otel.sessionvision import IngestClient


def test_valid_headers_pass_unchanged() -> None:
    headers = {"X-Scope-OrgID": "acme", "authorization": "Bearer a.b-c_d~", "x-empty": ""}
    assert checked_headers(headers, "headers") == headers
    assert checked_header("api-key", "a\tb c", "headers") == ("api-key", "a\tb c")


@pytest.mark.parametrize("name", ["", "bad key", "x:y", "naïve", "x\n", "(x)"])
def test_names_that_are_not_http_tokens_are_refused(name: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        checked_header(name, "v", "exporters.otlp.headers")
    assert raised.value.message == f"exporters.otlp.headers: {name!r} is not a valid header name"


@pytest.mark.parametrize("value", ["a\r\nInjected: 1", "a\nb", "\x00", "\x7f", "café"])
def test_values_a_header_cannot_carry_are_refused(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^headers: the value of 'x-tenant' has char"):
        checked_header("x-tenant", value, "headers")


def test_the_ingest_client_refuses_a_header_that_would_split_its_requests() -> None:
    # Its transport writes headers as they are: a line break would start a header of its own.
    with pytest.raises(ConfigurationError, match="the value of 'X-Extra'"):
        IngestClient("http://127.0.0.1:9", headers={"X-Extra": "v\r\nX-Injected: 1"})


def test_credentials_are_non_empty_printable_ascii_without_spaces() -> None:
    assert is_credential("sv_pub_1") and is_credential("a.b-c_d~!")
    for bad in ("", " ", "a b", "tab\t", "naïve", "line\n", None, 5):
        assert not is_credential(bad)
