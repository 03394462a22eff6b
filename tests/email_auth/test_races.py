"""An invitation redeemed by twenty concurrent requests: exactly one session, one activation."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select

from antechamber.members.models import Member
from antechamber.services import Services
from antechamber.sessions.models import IntermediateSession, MemberSession
from tests.api.test_races import RACERS, race
from tests.conftest import Credentials, LiveServer
from tests.email_auth.conftest import (
    AUTHENTICATE,
    INVITE,
    allow_org_links,
    email_code,
    link_token,
)
from tests.factories import make_org


def test_twenty_redemptions_of_one_invite_one_session(
    live_server: LiveServer, project: Credentials, services: Services
) -> None:
    allow_org_links(services, project.project_id)
    org = make_org(services, project.project_id)
    sent = httpx.post(
        f"{live_server.url}{INVITE}",
        json={"organization_id": org.id, "email_address": "carol@contractor.example"},
        auth=project.auth,
    )
    assert sent.status_code == 200, sent.json()
    token = link_token(services, "carol@contractor.example")
    codes = race(live_server, project, AUTHENTICATE, {"magic_links_token": token})
    assert codes == [200] + [401] * (RACERS - 1)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(MemberSession)) == 1
        member = session.scalar(select(Member).where(Member.organization_id == org.id))
        assert member is not None
        assert member.status == "active"


def test_twenty_uses_of_one_email_code_one_ist(
    live_server: LiveServer, project: Credentials, services: Services
) -> None:
    sent = httpx.post(
        f"{live_server.url}/v1/b2b/otps/email/discovery/send",
        json={"email_address": "ada@acme.example"},
        auth=project.auth,
    )
    assert sent.status_code == 200, sent.json()
    code = email_code(services, "ada@acme.example")
    codes = race(
        live_server,
        project,
        "/v1/b2b/otps/email/discovery/authenticate",
        {"email_address": "ada@acme.example", "code": code},
    )
    assert codes == [200] + [401] * (RACERS - 1)
    with services.sessions() as session:
        assert session.scalar(select(func.count()).select_from(IntermediateSession)) == 1
