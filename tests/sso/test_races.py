"""SSO tokens are single use under concurrency; concurrent first logins make one member.

On PostgreSQL the requests really overlap (row locks decide); on SQLite BEGIN IMMEDIATE
queues them, so these run on PostgreSQL only.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import func, select

from antechamber.errors import AntechamberError
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.sessions.models import MemberSession
from antechamber.sso import flow
from antechamber.sso.models import SsoRegistration
from antechamber.sso.provisioning import VerifiedIdentity
from tests.conftest import Credentials, LiveServer

RACERS = 20
pytestmark = pytest.mark.postgres_only


def _token(services: Services, project: Credentials, org: Organization, connection_id: str) -> str:
    """An SSO token as a verified callback issues it (the provider's part is tested apart)."""
    identity = VerifiedIdentity(
        connection_id=connection_id,
        external_id="idp-user-1",
        email="grace@acme.example",
        email_verified=True,
        name="Grace",
        attributes={},
    )
    with services.scope(project.project_id, "test", "test") as scope:
        return flow.issue_token(scope, org, identity, None)


def _race(live_server: LiveServer, project: Credentials, tokens: list[str]) -> list[int]:
    start = threading.Barrier(len(tokens))

    def attempt(token: str) -> int:
        with httpx.Client(base_url=live_server.url, auth=project.auth, timeout=60) as client:
            start.wait()
            return client.post("/v1/b2b/sso/authenticate", json={"sso_token": token}).status_code

    with ThreadPoolExecutor(len(tokens)) as pool:
        return sorted(pool.map(attempt, tokens))


def _count(services: Services, table: type) -> int:
    with services.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(table)) or 0)


def test_twenty_redemptions_of_one_sso_token_one_session(
    live_server: LiveServer,
    project: Credentials,
    services: Services,
    corp: Organization,
    connection_id: str,
) -> None:
    token = _token(services, project, corp, connection_id)
    assert _race(live_server, project, [token] * RACERS) == [200] + [404] * (RACERS - 1)
    assert _count(services, MemberSession) == 1
    assert _count(services, Member) == 1


def test_concurrent_first_logins_of_one_person_make_one_member(
    live_server: LiveServer,
    project: Credentials,
    services: Services,
    corp: Organization,
    connection_id: str,
) -> None:
    tokens = [_token(services, project, corp, connection_id) for _ in range(8)]
    assert _race(live_server, project, tokens) == [200] * 8
    assert _count(services, Member) == 1
    assert _count(services, SsoRegistration) == 1
    assert _count(services, MemberSession) == 8


def test_one_login_state_finished_concurrently_issues_one_token(
    services: Services,
    project: Credentials,
    corp: Organization,
    connection_id: str,
) -> None:
    """Two callbacks of one login (a double submit, a replayed redirect) racing to finish:
    the login is claimed once, so exactly one SSO token exists."""
    from antechamber.sso.models import SsoLogin, SsoToken

    with services.scope(project.project_id, "test", "test") as scope:
        from antechamber.redirects import service as redirects

        for kind in ("login", "signup"):
            redirects.add_redirect_url(scope, "http://localhost:3000/sso", kind=kind)
        started = flow.start(scope, connection_id=connection_id)
    identity = VerifiedIdentity(
        connection_id=connection_id,
        external_id="idp-user-1",
        email="grace@acme.example",
        email_verified=True,
        name="Grace",
        attributes={},
    )
    gate = threading.Barrier(RACERS)

    def finish(_: int) -> str:
        gate.wait()
        try:
            with services.scope(project.project_id, "test", "test") as scope:
                return flow.finish(scope, started.state, identity)
        except AntechamberError as exc:  # the losers' refusal is the point
            return type(exc).__name__

    with ThreadPoolExecutor(RACERS) as pool:
        outcomes = list(pool.map(finish, range(RACERS)))
    assert sum(o.startswith("http") for o in outcomes) == 1
    assert set(outcomes) - {o for o in outcomes if o.startswith("http")} == {"SsoLoginNotFound"}
    assert _count(services, SsoToken) == 1
    with services.sessions() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(SsoLogin).where(SsoLogin.used_at.is_(None))
            )
            == 0
        )
