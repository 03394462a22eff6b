"""The dashboard's Members section, invitations through the app, and signing in with an
emailed code: on both backends (in-process and the official SDK)."""

from __future__ import annotations

import html

from sqlalchemy import Engine, select

from antechamber.audit.models import AuditEvent
from tests.dbsnap import snapshot
from tests.webapp.conftest import SAME_ORIGIN, Web

ADMIN = "ada@acme.example"
COLLEAGUE = "carol@contractor.example"
#: What an invitation, a resend or a revoke would change.
TABLES = ("members", "magic_links", "outbox_messages", "deleted_members")


def admin_of_new_org(web: Web) -> str:
    created = web.create(ADMIN, "Acme Labs")
    assert created.status_code == 200, created.text
    return str(created.json()["organizationId"])


def invite(web: Web, email: str = COLLEAGUE, name: str = "Carol") -> str:
    sent = web.post("/api/team/invite", {"email": email, "name": name})
    assert sent.status_code == 200, sent.text
    assert sent.json()["member"]["status"] == "invited"
    return web.link_token(email)


def accept(web: Web, token: str) -> dict[str, object]:
    answer = web.post(
        "/api/auth/callback", {"token": token, "stytch_token_type": "multi_tenant_magic_links"}
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, object] = answer.json()
    return body


def test_an_admin_sees_members_and_invites_a_colleague_who_joins(web: Web) -> None:
    admin_of_new_org(web)
    page = html.unescape(web.get("/dashboard").text)
    assert "Members" in page
    assert ADMIN in page
    assert "Invite a colleague" in page
    token = invite(web)
    page = html.unescape(web.get("/dashboard").text)
    assert COLLEAGUE in page
    assert "Invited" in page
    assert "Resend" in page
    # One section, one list: the invitation's row also offers the role change.
    assert page.count('class="members"') == 1
    assert f"Make admin {COLLEAGUE}" in page
    assert f"Revoke the invitation of {COLLEAGUE}" in page
    joined = accept(web, token)
    assert joined["redirectPath"] == "/dashboard"
    dashboard = html.unescape(web.get("/dashboard").text)
    assert COLLEAGUE in dashboard
    assert "Members" not in dashboard  # the colleague is not an admin
    web.reset_limits()
    web.login(ADMIN, str(joined["organizationId"]))
    rows = html.unescape(web.get("/dashboard").text)
    assert "Active" in rows
    assert "Invited" not in rows


def test_an_invitation_link_is_accepted_once(web: Web) -> None:
    admin_of_new_org(web)
    token = invite(web)
    accept(web, token)
    again = web.post(
        "/api/auth/callback", {"token": token, "stytch_token_type": "multi_tenant_magic_links"}
    )
    assert again.status_code == 401
    assert again.json()["error"] == "link_expired"


def test_resend_ends_the_old_link_and_revoke_ends_the_invitation(web: Web) -> None:
    admin_of_new_org(web)
    old = invite(web)
    members = web.post("/api/discovery/get-organization").json()
    assert members["member"]["email_address"] == ADMIN
    dashboard = web.get("/dashboard").text
    member_id = dashboard.split('name="memberId" value="', 1)[1].split('"', 1)[0]
    resent = web.post("/api/team/resend", {"memberId": member_id})
    assert resent.status_code == 200, resent.text
    new = web.link_token(COLLEAGUE)
    revoked = web.post("/api/team/revoke", {"memberId": member_id})
    assert revoked.status_code == 200, revoked.text
    assert COLLEAGUE not in web.get("/dashboard").text
    # Made with the admin's session: the server audits the admin as who acted, not the app.
    admin_id = members["member"]["member_id"]
    with web.services.sessions() as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.member_id == member_id,
                AuditEvent.event_type.in_(("member.invited", "member.deleted")),
            )
        ).all()
    assert sorted(e.event_type for e in events) == [
        "member.deleted",
        "member.invited",
        "member.invited",
    ]
    assert {e.actor for e in events} == {f"member:{admin_id}"}
    for token in (old, new):
        refused = web.post(
            "/api/auth/callback", {"token": token, "stytch_token_type": "multi_tenant_magic_links"}
        )
        assert refused.status_code == 401, refused.text


def test_a_plain_member_posting_the_invite_and_revoke_forms_is_refused(
    web: Web, engine: Engine
) -> None:
    """The server refuses, not the page: the calls carry the plain member's session."""
    admin_of_new_org(web)
    invite(web, "dave@contractor.example", "Dave")  # stays invited
    dashboard = web.get("/dashboard").text
    dave_id = dashboard.split('name="memberId" value="', 1)[1].split('"', 1)[0]
    token = invite(web)
    accept(web, token)  # this browser is now the colleague, a plain member
    assert "Manage your organization" not in web.get("/dashboard").text
    before = snapshot(engine, TABLES)
    for path, body in (
        ("/api/team/invite", {"email": "eve@contractor.example"}),
        ("/api/team/resend", {"memberId": dave_id}),
        ("/api/team/revoke", {"memberId": dave_id}),
        ("/api/team/revoke", {"memberId": "x"}),
    ):
        refused = web.post(path, body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"] == "not_permitted", path
        form = web.form(path, body, headers=SAME_ORIGIN)
        assert form.status_code == 303
        assert form.headers["location"] == "/dashboard?error=not_permitted", path
    assert snapshot(engine, TABLES) == before
    assert web.messages("eve@contractor.example") == []


def test_revoke_refuses_an_active_member(web: Web) -> None:
    admin_of_new_org(web)
    me = web.post("/api/discovery/get-organization").json()["member"]["member_id"]
    refused = web.post("/api/team/revoke", {"memberId": me})
    assert refused.status_code == 400
    assert refused.json()["error"] == "not_invited"


def test_signing_in_with_an_emailed_code(web: Web) -> None:
    org_id = admin_of_new_org(web)
    web.post("/api/auth/logout")
    assert "Email me a code instead" in web.get("/").text
    sent = web.post("/api/discovery/code/start", {"email": ADMIN})
    assert sent.status_code == 200, sent.text
    assert sent.json()["redirectPath"] == "/code?step=enter"
    assert "Enter your code" in web.get("/code?step=enter").text
    code = str(web.fresh(ADMIN)["code"])
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    refused = web.post("/api/discovery/code/authenticate", {"code": wrong})
    assert refused.status_code == 401
    assert refused.json()["error"] == "wrong_email_code"
    malformed = web.post("/api/discovery/code/authenticate", {"code": "12ab56"})
    assert malformed.json()["error"] == "invalid_email_code"
    found = web.post("/api/discovery/code/authenticate", {"code": code})
    assert found.status_code == 200, found.text
    assert found.json()["redirectPath"] == "/discovery"
    entered = web.select(org_id)
    assert entered.json()["redirectPath"] == "/dashboard"


def test_the_code_page_without_javascript(web: Web) -> None:
    sent = web.form("/api/discovery/code/start", {"email": ADMIN})
    assert sent.status_code == 303
    assert sent.headers["location"] == "/code?step=enter"
    code = str(web.fresh(ADMIN)["code"])
    done = web.form("/api/discovery/code/authenticate", {"code": code})
    assert done.status_code == 303
    assert done.headers["location"] == "/discovery"


def test_accept_invite_on_the_discovery_page_completes_the_invitation(web: Web) -> None:
    org_id = admin_of_new_org(web)
    invite(web)  # the invitation email stays unused: the colleague signs in by discovery
    web.post("/api/auth/logout")
    web.reset_limits()
    found = web.discover(COLLEAGUE)
    [listed] = found["discovered_organizations"]
    assert listed["membership"]["type"] == "invited_member"
    page = html.unescape(web.get("/discovery").text)
    assert "Accept invite for Acme Labs" in page
    entered = web.select(org_id)
    assert entered.json()["redirectPath"] == "/dashboard", entered.text
    me = web.post("/api/discovery/get-organization").json()["member"]
    assert me["status"] == "active"
