"""Putting a cookie into a test client's jar in place of the one the server set.

Starlette's TestClient runs on httpx2 when it is installed (scim2-tester brings it), and
httpx2's `cookies.set(name, value)` without the server's domain adds a second cookie beside
the server's instead of replacing it; which of the two a request then carries is not the
test's choice. `replace_cookie` removes every cookie of that name first and keeps the domain
and path the server gave it.
"""

from __future__ import annotations

from typing import Any


def replace_cookie(client: Any, name: str, value: str, *, path: str | None = None) -> None:
    jar = client.cookies.jar
    found = [c for c in jar if c.name == name]
    for cookie in found:
        jar.clear(cookie.domain, cookie.path, cookie.name)
    domain = found[0].domain if found else ""
    client.cookies.set(name, value, domain=domain, path=path or (found[0].path if found else "/"))
