"""Requests to identity providers: a timeout, a size limit, no redirects, and no private
addresses unless `ANTECHAMBER_SSO_ALLOW_PRIVATE_ADDRESSES` (a connection's URLs are typed in by
an organization's admin, so without this guard they could make the server probe its own
network: SSRF).

The address check resolves the host name before the request. A name that resolves to a public
address here and a private one a moment later (DNS rebinding) is not caught; the timeout and
the refusal of redirects bound what such a request can reach.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import httpx

from antechamber.settings import Settings

MAX_RESPONSE_BYTES = 512 * 1024


class OutboundError(Exception):
    """The provider could not be asked: bad URL, private address, timeout, bad answer."""


def check_url(url: str, settings: Settings, *, resolve: bool = True) -> str:
    """An absolute https URL (http too when private addresses are allowed, for tests and
    intranets) whose host is not a private address unless allowed."""
    parts = urlsplit(url)
    allowed_schemes = ("https", "http") if settings.sso_allow_private_addresses else ("https",)
    if parts.scheme not in allowed_schemes or not parts.hostname or parts.username:
        raise OutboundError(f"{url!r} is not an absolute {'/'.join(allowed_schemes)} URL")
    if settings.sso_allow_private_addresses or not resolve:
        return url
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise OutboundError(f"{parts.hostname} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise OutboundError(f"{parts.hostname} resolves to a private address")
    return url


def get_json(url: str, settings: Settings, *, headers: dict[str, str] | None = None) -> Any:
    return _json(_request("GET", url, settings, headers=headers))


def post_form(
    url: str, data: dict[str, str], settings: Settings, *, auth: tuple[str, str] | None = None
) -> Any:
    return _json(_request("POST", url, settings, data=data, auth=auth))


def _request(method: str, url: str, settings: Settings, **kwargs: Any) -> bytes:
    check_url(url, settings)
    timeout = settings.sso_http_timeout_seconds
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream(method, url, **kwargs) as response,
        ):
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_RESPONSE_BYTES:
                    raise OutboundError(f"{url} answered more than {MAX_RESPONSE_BYTES} bytes")
            if response.status_code != 200:
                raise OutboundError(f"{url} answered HTTP {response.status_code}")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise OutboundError(f"{url}: {type(exc).__name__}") from None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise OutboundError("the answer is not JSON") from None
