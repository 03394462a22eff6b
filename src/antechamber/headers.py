"""Security headers on every response (ASVS V3.4; docs/security.md).

Pages get a Content-Security-Policy that allows only our own origin and forbids framing;
everything gets `nosniff` and `Referrer-Policy: no-referrer` (pages and API answers may carry
tokens in their URL or body). API answers are never cached. HSTS is sent outside development
mode. A route may set its own header (a stricter CSP, say); it is then left alone.
"""

from __future__ import annotations

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


def add_security_headers(
    headers: list[tuple[bytes, bytes]], *, api: bool, hsts: bool
) -> list[tuple[bytes, bytes]]:
    """`headers` (a response's raw ASGI headers) with the security headers it does not set
    itself: `api` for an answer under `/v1/` (never cached), `hsts` outside development."""
    present = {name.lower() for name, _ in headers}
    content_type = next((v for k, v in headers if k == b"content-type"), b"")
    wanted = [
        *_ALWAYS,
        _PAGE_CSP if content_type.startswith(b"text/html") else _DATA_CSP,
        *((_NO_STORE,) if api else ()),
        *((_HSTS,) if hsts else ()),
    ]
    return headers + [pair for pair in wanted if pair[0] not in present]
