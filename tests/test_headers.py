"""The security headers (`antechamber.headers`): the one-pass addition gives exactly what the
plain rule gives, whatever a response sets itself."""

from __future__ import annotations

import random

from antechamber.headers import (
    _ALWAYS,
    _DATA_CSP,
    _HSTS,
    _NO_STORE,
    _PAGE_CSP,
    add_security_headers,
)


def _plain_rule(
    headers: list[tuple[bytes, bytes]], *, api: bool, hsts: bool
) -> list[tuple[bytes, bytes]]:
    """The rule as first written: every wanted header the response does not set itself."""
    present = {name.lower() for name, _ in headers}
    content_type = next((v for k, v in headers if k == b"content-type"), b"")
    wanted = [
        *_ALWAYS,
        _PAGE_CSP if content_type.startswith(b"text/html") else _DATA_CSP,
        *((_NO_STORE,) if api else ()),
        *((_HSTS,) if hsts else ()),
    ]
    return headers + [pair for pair in wanted if pair[0] not in present]


_NAMES = [
    b"content-type",
    b"Content-Type",
    b"content-length",
    b"location",
    b"set-cookie",
    b"x-content-type-options",
    b"Referrer-Policy",
    b"x-frame-options",
    b"content-security-policy",
    b"Content-Security-Policy",
    b"cache-control",
    b"Cache-Control",
    b"strict-transport-security",
    b"retry-after",
]
_VALUES = [b"text/html; charset=utf-8", b"application/json", b"text/plain", b"x", b"", b"TEXT/HTML"]


def test_matches_the_plain_rule_on_many_random_responses() -> None:
    rng = random.Random(21)
    for _ in range(5000):
        headers = [(rng.choice(_NAMES), rng.choice(_VALUES)) for _ in range(rng.randrange(0, 7))]
        api, hsts = rng.random() < 0.5, rng.random() < 0.5
        expected = _plain_rule(list(headers), api=api, hsts=hsts)
        assert add_security_headers(headers, api=api, hsts=hsts) == expected
        assert add_security_headers(tuple(headers), api=api, hsts=hsts) == expected


def test_a_json_answer_gets_every_header_in_order() -> None:
    headers = [(b"content-length", b"2"), (b"content-type", b"application/json")]
    assert add_security_headers(headers, api=True, hsts=True) == [
        *headers,
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"DENY"),
        _DATA_CSP,
        (b"cache-control", b"no-store"),
        _HSTS,
    ]
