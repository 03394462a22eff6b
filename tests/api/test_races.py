"""Single use under concurrency: many requests at once against a live server, one winner.

On PostgreSQL the requests really overlap (row locks decide). On SQLite BEGIN IMMEDIATE queues
them, which is slow to watch with twenty threads, so only the link race runs there too.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from antechamber.keys.models import SigningKey
from antechamber.members.models import Member
from antechamber.services import Services
from antechamber.sessions.models import IntermediateSession, MemberSession
from tests.conftest import Credentials, LiveServer
from tests.factories import allow_redirect, magic_token, make_org

RACERS = 20


def race(
    live_server: LiveServer, project: Credentials, path: str, body: dict[str, Any]
) -> list[int]:
    """POST the same body from RACERS threads released together; the status codes."""
    start = threading.Barrier(RACERS)

    def attempt(_: int) -> int:
        with httpx.Client(base_url=live_server.url, auth=project.auth, timeout=60) as client:
            start.wait()
            return client.post(path, json=body).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        return sorted(pool.map(attempt, range(RACERS)))


def ist_of(live_server: LiveServer, project: Credentials, services: Services, email: str) -> str:
    with httpx.Client(base_url=live_server.url, auth=project.auth) as client:
        client.post("/v1/b2b/magic_links/email/discovery/send", json={"email_address": email})
        token = magic_token(services, email)
        found = client.post(
            "/v1/b2b/magic_links/discovery/authenticate",
            json={"discovery_magic_links_token": token},
        )
    return str(found.json()["intermediate_session_token"])


@pytest.fixture
def ist(live_server: LiveServer, project: Credentials, services: Services) -> str:
    allow_redirect(services, project.project_id)
    return ist_of(live_server, project, services, "ada@acme.example")


def test_twenty_redemptions_of_one_link_one_success(
    live_server: LiveServer, project: Credentials, services: Services
) -> None:
    allow_redirect(services, project.project_id)
    httpx.post(
        f"{live_server.url}/v1/b2b/magic_links/email/discovery/send",
        json={"email_address": "ada@acme.example"},
        auth=project.auth,
    )
    token = magic_token(services, "ada@acme.example")
    codes = race(
        live_server,
        project,
        "/v1/b2b/magic_links/discovery/authenticate",
        {"discovery_magic_links_token": token},
    )
    assert codes == [200] + [401] * (RACERS - 1)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(IntermediateSession)) == 1


@pytest.mark.postgres_only
def test_twenty_exchanges_of_one_ist_one_session(
    live_server: LiveServer, project: Credentials, services: Services, ist: str
) -> None:
    # Joining by domain: the winner also creates the member, which must happen once.
    org = make_org(
        services,
        project.project_id,
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
    )
    codes = race(
        live_server,
        project,
        "/v1/b2b/discovery/intermediate_sessions/exchange",
        {"intermediate_session_token": ist, "organization_id": org.id},
    )
    assert codes == [200] + [404] * (RACERS - 1)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MemberSession)) == 1
        members = session.scalar(
            select(func.count()).select_from(Member).where(Member.organization_id == org.id)
        )
        assert members == 1


@pytest.mark.postgres_only
def test_twenty_creates_from_one_ist_one_organization(
    live_server: LiveServer, project: Credentials, services: Services, ist: str
) -> None:
    codes = race(
        live_server,
        project,
        "/v1/b2b/discovery/organizations/create",
        {"intermediate_session_token": ist, "organization_name": "Acme"},
    )
    assert codes == [200] + [404] * (RACERS - 1)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MemberSession)) == 1


@pytest.mark.postgres_only
def test_the_first_logins_of_a_new_project_all_succeed_and_make_one_signing_key(
    live_server: LiveServer, project: Credentials, services: Services
) -> None:
    """The first login of a project makes its signing key. Twenty first logins at once each
    hold a reference to the project row (their new session's foreign key) when they ask for
    the key: locking the row FOR UPDATE then deadlocked them in pairs (500s)."""
    allow_redirect(services, project.project_id)
    org = make_org(
        services,
        project.project_id,
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
    )
    ists = [ist_of(live_server, project, services, f"user{i}@acme.example") for i in range(RACERS)]
    start = threading.Barrier(RACERS)

    def attempt(i: int) -> int:
        with httpx.Client(base_url=live_server.url, auth=project.auth, timeout=60) as client:
            start.wait()
            return client.post(
                "/v1/b2b/discovery/intermediate_sessions/exchange",
                json={"intermediate_session_token": ists[i], "organization_id": org.id},
            ).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        codes = list(pool.map(attempt, range(RACERS)))
    assert codes == [200] * RACERS
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SigningKey)) == 1
