"""CORS as a pure function of the request headers."""

from __future__ import annotations

import pytest

from sv_otel.ingest.cors import CorsPolicy


@pytest.mark.parametrize(
    ("origins", "origin", "allowed"),
    [
        (("*",), "https://anything.example", True),
        (("https://shop.example",), "https://shop.example", True),
        (("https://shop.example",), "https://SHOP.example", True),
        (("https://shop.example",), "https://shop.example.evil", False),
        (("https://*.shop.example",), "https://www.shop.example", True),
        (("https://*.shop.example",), "https://shop.example", False),
        (("https://*.shop.example",), "http://www.shop.example", False),
        ((), "https://anything.example", True),  # CORS off: not a browser policy decision
    ],
)
def test_allowed_origins(origins: tuple[str, ...], origin: str, allowed: bool) -> None:
    assert CorsPolicy(origins).allows(origin) is allowed


def test_response_headers_echo_the_origin_and_expose_retry_after() -> None:
    policy = CorsPolicy(("*",))
    assert policy.response_headers("https://a.example") == {
        "Access-Control-Allow-Origin": "https://a.example",
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }
    assert policy.response_headers(None) == {}
    assert CorsPolicy(()).response_headers("https://a.example") == {}


def test_extra_headers_are_added_once_case_insensitively() -> None:
    policy = CorsPolicy.create(["*"], ["x-token", "content-type", "X-Token"], 60)
    assert policy.allowed_headers == (
        "Content-Type",
        "Content-Encoding",
        "Authorization",
        "x-token",
    )
    assert policy.preflight("https://a", "POST", "X-TOKEN, Content-Type") is None
    assert policy.preflight(None, "POST", None) == "preflight without an Origin header"
