"""Limits that hold under attack: per recipient, per client address, across processes.

Research §1.2 (ASVS 2.4.1, 6.1.1, 6.3.1; OWASP Forgot Password: inbox flooding), §2.5
(casdoor#5250: no limit on a verify endpoint; otp-without-db#8: per-process counters are
useless with 20 instances, so counters live in shared storage), §2.10 (laravel#13658: a
throttle that only fires for existing users enumerates them).

Every refusal is 429 with `Retry-After` in Stytch's envelope, and changes nothing in the
database (a refused send leaves only its audit event).
"""

from __future__ import annotations

import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.app import create_app
from antechamber.client_address import client_address, limit_key
from antechamber.clock import FrozenClock
from antechamber.services import Services
from antechamber.settings import Settings, SettingsError, load_settings
from tests.conftest import Credentials
from tests.factories import allow_redirect, magic_token, make_member, make_org, message_ids
from tests.flows import AUTHENTICATE, EXCHANGE, LIST, SEND, ist_for
from tests.snapshots import assert_refused, unchanged

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def make_client(
    settings: Settings, engine: Engine, clock: FrozenClock, project: Credentials
) -> Iterator[Any]:
    """`make_client(address, **settings)`: a client of a fresh app instance (its own limiter),
    on the test's database, connecting from `address`."""
    clients: list[TestClient] = []

    def make(address: str = "198.51.100.7", **overrides: Any) -> TestClient:
        app = create_app(settings.model_copy(update=overrides), engine=engine, clock=clock)
        client = TestClient(app, raise_server_exceptions=False, client=(address, 50000))
        client.auth = project.auth
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.app.state.services.limiter.reset()  # type: ignore[attr-defined]


def _retry_after(response: Any) -> int:
    value = int(response.headers["retry-after"])
    assert 1 <= value <= 3600
    return value


# --- Client addresses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        # Default: nothing is trusted, the header is whatever the client wrote.
        ("203.0.113.5", ["198.51.100.1"], [], "203.0.113.5"),
        # A trusted proxy: the first untrusted hop from the right.
        ("10.0.0.1", ["198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6, 198.51.100.1"], ["10.0.0.0/8"], "198.51.100.1"),
        ("10.0.0.1", ["6.6.6.6", "198.51.100.1, 10.0.0.2"], ["10.0.0.0/8"], "198.51.100.1"),
        # Garbage to the left of the trusted chain stops it at the last trusted hop.
        ("10.0.0.1", ["<script>, 10.0.0.2"], ["10.0.0.0/8"], "10.0.0.2"),
        ("10.0.0.1", [""], ["10.0.0.0/8"], "10.0.0.1"),
        # Every hop trusted: the leftmost.
        ("10.0.0.1", ["10.0.0.3, 10.0.0.2"], ["10.0.0.0/8"], "10.0.0.3"),
        # Ports, brackets, IPv4-mapped IPv6.
        ("10.0.0.1", ["[2001:db8::1]:443"], ["10.0.0.1/32"], "2001:db8::1"),
        ("10.0.0.1", ["198.51.100.1:5555"], ["10.0.0.1/32"], "198.51.100.1"),
        ("::ffff:203.0.113.5", [], [], "203.0.113.5"),
        # A peer that is not an address (a Unix socket, a test client) is itself.
        ("testclient", ["198.51.100.1"], ["10.0.0.0/8"], "testclient"),
        ("testclient", [], [], "testclient"),
        ("x" * 100, [], [], "x" * 64),
        ("[2001:DB8::1]:443", [], [], "2001:db8::1"),
        ("203.0.113.5:80", [], [], "203.0.113.5"),
        (None, [], [], None),
        ("", [], [], None),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    peer: str | None, forwarded: list[str], trusted: list[str], expected: str | None
) -> None:
    assert client_address(peer, forwarded, trusted) == expected


def test_an_ipv6_client_counts_as_its_slash_64() -> None:
    assert limit_key("2001:db8:1:2:aaaa::1") == limit_key("2001:db8:1:2:bbbb::9")
    assert limit_key("2001:db8:1:3::1") != limit_key("2001:db8:1:2::1")
    assert limit_key("203.0.113.5") == "203.0.113.5"


def test_trusted_proxies_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTECHAMBER_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")
    assert load_settings(_env_file=None).trusted_proxies == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    monkeypatch.setenv("ANTECHAMBER_TRUSTED_PROXIES", "proxy.internal")
    with pytest.raises(SettingsError, match="ANTECHAMBER_TRUSTED_PROXIES"):
        load_settings(_env_file=None)
    monkeypatch.delenv("ANTECHAMBER_TRUSTED_PROXIES")
    assert load_settings(_env_file=None).trusted_proxies == []


# --- Discovery sends ------------------------------------------------------------------------


def test_sends_to_one_address_are_limited_the_same_for_known_and_unknown_emails(
    make_client: Any, services: Services, project: Credentials, engine: Engine
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address="known@acme.example")
    api = make_client()
    refusals = []
    for email in ("known@acme.example", "unknown@acme.example"):
        for _ in range(3):  # ANTECHAMBER_LIMIT_EMAIL_PER_RECIPIENT: 3/minute
            assert api.post(SEND, json={"email_address": email}).status_code == 200
        with unchanged(engine, allow={"audit_events"}) as snapshot:
            refused = api.post(SEND, json={"email_address": email})
            body = assert_refused(refused, 429, "too_many_requests")
        _retry_after(refused)
        [event] = snapshot.diff()["audit_events"].added  # the refusal, for the operator
        assert "delivery.refused" in event["event_type"]
        refusals.append({k: v for k, v in body.items() if k != "request_id"})
    assert refusals[0] == refusals[1]  # no oracle in the throttle (laravel#13658)


def test_sends_from_one_address_are_limited_whatever_the_recipients(
    make_client: Any, engine: Engine
) -> None:
    api = make_client(limit_discovery_send_per_ip="3/minute")
    for n in range(3):
        assert api.post(SEND, json={"email_address": f"victim{n}@acme.example"}).is_success
    with unchanged(engine):
        refused = api.post(SEND, json={"email_address": "victim9@acme.example"})
        body = assert_refused(refused, 429, "too_many_requests")
    assert "from this address" in body["error_message"]
    assert 1 <= _retry_after(refused) <= 60
    # A spoofed X-Forwarded-For buys no fresh allowance: no proxy is trusted by default.
    spoofed = api.post(
        SEND,
        json={"email_address": "victim9@acme.example"},
        headers={"X-Forwarded-For": "192.0.2.44"},
    )
    assert_refused(spoofed, 429, "too_many_requests")
    # Someone else is not affected.
    other = TestClient(api.app, raise_server_exceptions=False, client=("192.0.2.80", 1))
    other.auth = api.auth
    assert other.post(SEND, json={"email_address": "victim9@acme.example"}).is_success


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_allowance(
    make_client: Any,
) -> None:
    api = make_client(
        "10.0.0.1", limit_discovery_send_per_ip="1/minute", trusted_proxies=["10.0.0.0/8"]
    )

    def send(forwarded_for: str, email: str) -> int:
        return api.post(
            SEND, json={"email_address": email}, headers={"X-Forwarded-For": forwarded_for}
        ).status_code

    assert send("192.0.2.1", "a@acme.example") == 200
    assert send("192.0.2.1", "b@acme.example") == 429
    # The client cannot escape by prepending addresses: only the proxy's hop is believed.
    assert send("192.0.2.99, 192.0.2.1", "c@acme.example") == 429
    assert send("192.0.2.2", "d@acme.example") == 200
    # An IPv6 client rotating through its /64 is one client.
    assert send("2001:db8:0:1::1", "e@acme.example") == 200
    assert send("2001:db8:0:1::2", "f@acme.example") == 429


# --- Token guessing -------------------------------------------------------------------------


def test_guessing_magic_links_locks_the_guessing_address_out(
    make_client: Any, services: Services, engine: Engine
) -> None:
    api = make_client(limit_authenticate_failures_per_ip="3/minute")
    seen = message_ids(services, "ada@acme.example")
    api.post(SEND, json={"email_address": "ada@acme.example"})
    real = magic_token(services, "ada@acme.example", seen=seen)
    with unchanged(engine):
        for _ in range(3):
            guess = {"discovery_magic_links_token": secrets.token_urlsafe(32)}
            assert_refused(api.post(AUTHENTICATE, json=guess), 404, "magic_link_not_found")
        # Even the right token is refused now, before any lookup: the link is not spent.
        refused = api.post(AUTHENTICATE, json={"discovery_magic_links_token": real})
        assert_refused(refused, 429, "too_many_requests")
        _retry_after(refused)
    other = TestClient(api.app, raise_server_exceptions=False, client=("192.0.2.80", 1))
    other.auth = api.auth
    assert other.post(AUTHENTICATE, json={"discovery_magic_links_token": real}).is_success


def test_guessing_intermediate_session_tokens_locks_the_guessing_address_out(
    make_client: Any, services: Services, project: Credentials, engine: Engine
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address="ada@acme.example")
    api = make_client(limit_authenticate_failures_per_ip="4/minute")
    real = ist_for(api, services, "ada@acme.example")
    with unchanged(engine):
        for path, body in [
            (LIST, {"intermediate_session_token": "x" * 43}),
            (EXCHANGE, {"intermediate_session_token": "y" * 43, "organization_id": org.id}),
            (LIST, {"intermediate_session_token": "z" * 43}),
            (EXCHANGE, {"intermediate_session_token": "w" * 43, "organization_id": org.id}),
        ]:
            assert_refused(api.post(path, json=body), 404, "intermediate_session_not_found")
        for path, body in [
            (LIST, {"intermediate_session_token": real}),
            (EXCHANGE, {"intermediate_session_token": real, "organization_id": org.id}),
        ]:
            assert_refused(api.post(path, json=body), 429, "too_many_requests")


def test_successes_never_count_against_the_address(
    make_client: Any, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    api = make_client(
        limit_authenticate_failures_per_ip="2/minute", limit_email_per_recipient="100/minute"
    )
    for n in range(4):
        make_member(services, project.project_id, org, email_address=f"p{n}@acme.example")
        ist = ist_for(api, services, f"p{n}@acme.example")
        listed = api.post(LIST, json={"intermediate_session_token": ist})
        assert listed.status_code == 200, listed.json()


# --- Across processes -----------------------------------------------------------------------


@pytest.mark.skipif(not redis_up(), reason="Redis is not running on 127.0.0.1:6379")
def test_limits_hold_across_instances_sharing_redis(
    make_client: Any, services: Services, engine: Engine
) -> None:
    """Two app instances (two processes, as far as counters go) behind one load balancer: a
    limit used up on one is used up on the other."""
    shared = {
        "redis_url": REDIS_URL,
        "redis_key_prefix": f"antechamber-test-{secrets.token_hex(6)}",  # this run's keys only
        "limit_discovery_send_per_ip": "2/minute",
        "limit_authenticate_failures_per_ip": "2/minute",
    }
    first, second = make_client(**shared), make_client(**shared)
    assert first.app is not second.app
    assert first.post(SEND, json={"email_address": "a@acme.example"}).is_success
    assert second.post(SEND, json={"email_address": "b@acme.example"}).is_success
    with unchanged(engine):
        assert_refused(first.post(SEND, json={"email_address": "c@acme.example"}), 429,
                       "too_many_requests")  # fmt: skip
        assert_refused(second.post(SEND, json={"email_address": "c@acme.example"}), 429,
                       "too_many_requests")  # fmt: skip
        guess = {"discovery_magic_links_token": "nope"}
        assert_refused(first.post(AUTHENTICATE, json=guess), 404, "magic_link_not_found")
        assert_refused(second.post(AUTHENTICATE, json=guess), 404, "magic_link_not_found")
        assert_refused(first.post(AUTHENTICATE, json=guess), 429, "too_many_requests")
    import redis

    keys = redis.Redis.from_url(REDIS_URL).keys(f"{shared['redis_key_prefix']}*")
    assert keys
    assert not any(b"198.51.100.7" in key for key in keys)  # addresses are hashed
