"""Security headers on every response (ASVS V3.4; docs/security.md).

Pages get a Content-Security-Policy that allows only our own origin and forbids framing;
everything gets `nosniff` and `Referrer-Policy: no-referrer` (pages and API answers may carry
tokens in their URL or body). API answers are never cached. HSTS is sent outside development
mode. A route may set its own header (a stricter CSP, say); it is then left alone.
"""

from __future__ import annotations

from collections.abc import Sequence

PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
DATA_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000; includeSubDomains"

# The raw (lower-case name, value) pairs, in the order they are added.
_ALWAYS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
_PAGE_CSP = (b"content-security-policy", PAGE_CSP.encode())
_DATA_CSP = (b"content-security-policy", DATA_CSP.encode())
_NO_STORE = (b"cache-control", b"no-store")
_HSTS = (b"strict-transport-security", HSTS.encode())


_NAMES = frozenset(name for name, _ in (*_ALWAYS, _PAGE_CSP, _DATA_CSP, _NO_STORE, _HSTS))
# What a response setting none of them gets, by (an HTML page, an API answer, HSTS): built once.
_WANTED = {
    (page, api, hsts): (
        *_ALWAYS,
        _PAGE_CSP if page else _DATA_CSP,
        *((_NO_STORE,) if api else ()),
        *((_HSTS,) if hsts else ()),
    )
    for page in (False, True)
    for api in (False, True)
    for hsts in (False, True)
}


def add_security_headers(
    headers: Sequence[tuple[bytes, bytes]], *, api: bool, hsts: bool
) -> list[tuple[bytes, bytes]]:
    """`headers` (a response's raw ASGI headers) with the security headers it does not set
    itself: `api` for an answer under `/v1/` (never cached), `hsts` outside development."""
    content_type: bytes | None = None
    clash = False
    for name, value in headers:
        if content_type is None and name == b"content-type":
            content_type = value
        if not clash and name.lower() in _NAMES:
            clash = True
    wanted = _WANTED[content_type is not None and content_type.startswith(b"text/html"), api, hsts]
    if clash:  # the route set one itself: that one is left alone
        present = {name.lower() for name, _ in headers}
        return [*headers, *(pair for pair in wanted if pair[0] not in present)]
    return [*headers, *wanted]
