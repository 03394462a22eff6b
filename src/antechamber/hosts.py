"""The Host header is the client's word: never let it into a response (docs/security.md).

The edge (`antechamber.edge`) applies these rules in front of every face. They do two things:

- **Outside development mode it refuses a request addressed to a host it does not serve**
  (400): the host of `ANTECHAMBER_PUBLIC_BASE_URL`, the names in `ANTECHAMBER_ALLOWED_HOSTS`,
  and loopback names (`localhost`, `127.0.0.1`, `[::1]`, any port: a probe or a process on the
  same machine, which no attacker's link can reach). The liveness and readiness probes answer
  whatever the Host (load balancers often probe by address); they carry no URL.
- **In every mode it rewrites a redirect built from the request's own Host** (the framework's
  trailing-slash redirect builds `Location` from it) to the public base URL, so no response
  carries a host other than the configured public one. Redirects elsewhere (a frontend's
  origin, an identity provider) are left alone: they were not built from the request.

Every other redirect the faces make is relative or built from the public base URL.

The reference app on its own (`antechamber webapp`) knows no host list, and its public URL
may be a separate frontend's origin: it refuses no Host (`dev=True` here) and turns such a
redirect into a relative one (`relative_redirects`), which no Host can point elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from starlette.responses import PlainTextResponse, Response
from starlette.types import Scope

from antechamber.api.envelope import error_response
from antechamber.errors import BadRequest
from antechamber.ids import request_id as new_request_id

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
PROBE_PATHS = frozenset({"/healthz", "/readyz"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class HostNotAllowed(BadRequest):
    error_type = "host_not_allowed"
    default_message = (
        "This server does not answer for that host name; use the public base URL "
        "(or add the name to ANTECHAMBER_ALLOWED_HOSTS)."
    )


def split_host(value: str, scheme: str = "http") -> tuple[str, int | None]:
    """(lower-case name, port or None for the scheme's default) of a Host header value."""
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        name, rest = (value[: end + 1], value[end + 1 :]) if end != -1 else (value, "")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        name, port_text = value.split(":", 1)
    else:
        name, port_text = value, ""
    name = name.rstrip(".")
    port: int | None
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        port = -1  # no real host has it: never matches
    if port == _DEFAULT_PORTS.get(scheme):
        port = None
    return name, port


def _has_port(entry: str) -> bool:
    entry = entry.strip()
    return "]:" in entry if entry.startswith("[") else entry.count(":") == 1


class HostPolicy:
    """Which Host values a server answers for (see the module docstring)."""

    def __init__(
        self,
        public_base_url: str,
        allowed_hosts: Iterable[str],
        *,
        dev: bool,
        relative_redirects: bool = False,
    ) -> None:
        public = urlsplit(public_base_url)
        self.public_scheme = public.scheme
        self.public_netloc = public.netloc
        self.dev = dev
        self.relative_redirects = relative_redirects
        self._exact = {split_host(public.netloc, public.scheme)}
        self._names: set[str] = set()  # entries without a port: any port
        for entry in allowed_hosts:
            name, port = split_host(entry, public.scheme)
            if _has_port(entry):
                self._exact.add((name, port))
            else:
                self._names.add(name)

    def allows(self, host: str | None, scheme: str) -> bool:
        if self.dev:
            return True
        if not host:
            return False
        name, port = split_host(host, scheme)
        return name in LOOPBACK_NAMES or name in self._names or (name, port) in self._exact

    def public_location(self, location: str, request_hosts: set[str]) -> str | None:
        """`location` moved onto the public base URL if it was built from the request's host."""
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return None
        netloc = parts.netloc.lower()
        if netloc not in request_hosts:
            return None
        if self.relative_redirects:
            return urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
        if netloc == self.public_netloc.lower() and parts.scheme == self.public_scheme:
            return None
        return urlunsplit(
            (self.public_scheme, self.public_netloc, parts.path, parts.query, parts.fragment)
        )


def request_header(scope: Scope, name: bytes) -> str | None:
    """The value of the request's first header `name` (lower-case, as ASGI gives names), or
    None: what Starlette's `request.headers.get(name)` answers, without the `Headers` object
    it makes and its two calls a look-up. The edge reads the Host with it, the API the
    credentials and the body's content type."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def refusal(policy: HostPolicy, scope: Scope, host: str | None) -> Response | None:
    """The 400 answer to a request addressed to a host `policy` does not serve, else None.

    The probes answer whatever the Host. Under `/v1/` the refusal is Stytch's error envelope
    (with a fresh request id, kept in the request's state for the access log)."""
    if policy.dev or scope["path"] in PROBE_PATHS or policy.allows(host, scope["scheme"]):
        return None
    if scope["path"].startswith("/v1/"):
        rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        return error_response(HostNotAllowed(), rid)
    return PlainTextResponse(HostNotAllowed.default_message, status_code=400)


def request_hosts(scope: Scope, host: str | None) -> set[str]:
    """The names a URL built from this request could carry: its Host and the server's address."""
    hosts = {host.lower()} if host else set()
    server = scope.get("server")
    if server:
        hosts.add(f"{server[0]}:{server[1]}".lower())
        hosts.add(str(server[0]).lower())
    return hosts


def has_location(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """Whether a response's raw ASGI `headers` hold a `Location` (`rewrite_location` has work)."""
    for name, _ in headers:  # noqa: SIM110 - a loop: no generator made per response
        if name.lower() == b"location":
            return True
    return False


def rewrite_location(
    policy: HostPolicy, headers: list[tuple[bytes, bytes]], scope: Scope, host: str | None
) -> None:
    """Move a response's `Location` (raw ASGI `headers`, changed in place) onto the public base
    URL if the framework built it from the request's own host; any other is left alone."""
    at = next((i for i, (name, _) in enumerate(headers) if name.lower() == b"location"), None)
    if at is None:
        return
    location = headers[at][1].decode("latin-1")
    if not location:
        return
    moved = policy.public_location(location, request_hosts(scope, host))
    if moved is None:
        return
    headers[at] = (headers[at][0], moved.encode("latin-1"))
    # As Starlette's header assignment does: one Location, not a stale second one.
    headers[at + 1 :] = [h for h in headers[at + 1 :] if h[0].lower() != b"location"]
