"""Which address a request comes from, for limits per client address.

Faces (the API, the reference app) call `client_address` with the connection's peer and the
request's `X-Forwarded-For` values, and put the answer in the `Scope` (`scope.client_ip`);
domain code reads it there and never sees HTTP.

The peer is the client unless it is a trusted proxy (`ANTECHAMBER_TRUSTED_PROXIES`; none by
default). Then `X-Forwarded-For` is read from the right, each hop written by the proxy to its
right, and the first address that is not a trusted proxy is the client. Whatever lies further
left was written by the client itself and is never believed, so a client cannot pick the
address it is counted under. Running behind uvicorn, `antechamber serve` hands uvicorn the same
list, so uvicorn's own rewriting of the peer agrees with this.

`limit_key` is what limits count under: the address, except that an IPv6 address counts as its
/64 (one subscriber usually holds a whole /64 and can rotate through it at will).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Sequence

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_HOPS = 32  # more X-Forwarded-For hops than any real chain of proxies; the rest is ignored


def client_address(
    peer: str | None, forwarded_for: Iterable[str], trusted: Sequence[str]
) -> str | None:
    """The client's address: `peer`, or from `forwarded_for` when `peer` is a trusted proxy.

    `trusted` holds addresses or networks as `ipaddress` writes them (the setting's form). A
    peer that is not an IP address (a Unix socket, a test client's name) is returned as it is.
    """
    if not peer:
        return None
    if not trusted:  # the usual case: no proxy is believed, the answer is the peer's alone
        return _peer_text(peer)
    address = _parse(peer)
    if address is None:
        return peer[:64]
    networks = _networks(tuple(trusted))
    if not _is_trusted(address, networks):
        return str(address)
    hops = [hop for value in forwarded_for for hop in value.split(",")][-MAX_HOPS:]
    for hop in reversed(hops):
        forwarded = _parse(hop)
        if forwarded is None:
            # Not an address: the proxy to its right vouches for nothing beyond it.
            break
        address = forwarded
        if not _is_trusted(address, networks):
            break
    return str(address)


@functools.lru_cache(maxsize=4096)
def _peer_text(peer: str) -> str:
    """`peer` as `client_address` answers it with no trusted proxy; cached, as parsing through
    `ipaddress` costs more than the rest of a request's edge (a server sees few peers at once;
    the bound keeps memory flat when it sees many)."""
    address = _parse(peer)
    return peer[:64] if address is None else str(address)


@functools.lru_cache(maxsize=4096)
def limit_key(address: str) -> str:
    """The key per-address limits count under: the address, or its /64 for IPv6 (cached, as
    `_peer_text`: parsing through `ipaddress` costs several µs, and the answer depends only on
    the text)."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed) if parsed is not None else address[:64]


def _parse(value: str) -> IPAddress | None:
    """An address from `1.2.3.4`, `1.2.3.4:80`, `::1`, `[::1]:80`; IPv4-mapped IPv6 as IPv4."""
    text = value.strip()
    if text.startswith("["):
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


@functools.lru_cache(maxsize=16)
def _networks(trusted: tuple[str, ...]) -> tuple[IPNetwork, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _is_trusted(address: IPAddress, networks: tuple[IPNetwork, ...]) -> bool:
    return any(address in network for network in networks)
