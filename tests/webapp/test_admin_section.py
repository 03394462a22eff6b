"""The dashboard's organization admin section, over both backends: every change is made with
the signed-in member's session, so the server's RBAC decides (webapp/admin_section.py)."""

from __future__ import annotations

import html
from typing import Any

from sqlalchemy import Engine

from antechamber.email_auth import links
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.rbac import service as rbac
from tests.dbsnap import snapshot
from tests.factories import make_member
from tests.webapp.conftest import BASE, SAME_ORIGIN, Web
from tests.webapp.test_pages import check_page

TABLES = ("members", "organizations")


def _org(web: Web, org_id: str) -> Organization:
    with web.services.sessions() as session:
        org = session.get(Organization, org_id)
        assert org is not None
        return org


def _member(web: Web, member_id: str) -> Member:
    with web.services.sessions() as session:
        member = session.get(Member, member_id)
        assert member is not None
        return member


def _admin_of_new_org(web: Web) -> tuple[str, Any]:
    created = web.create("al@initech.example", "Initech")
    assert created.status_code == 200, created.text
    org_id = str(created.json()["organizationId"])
    colleague = make_member(
        web.services, web.project.project_id, _org(web, org_id), email_address="cy@initech.example"
    )
    return org_id, colleague


def test_an_admin_changes_roles_mfa_and_domains(web: Web) -> None:
    org_id, colleague = _admin_of_new_org(web)
    page = web.get("/dashboard")
    assert "Manage your organization" in page.text
    assert "cy@initech.example" in page.text
    check_page(page.text)  # every field labelled, no inline script or style

    made = web.form(
        "/dashboard/admin/role",
        {"member_id": colleague.id, "role": "stytch_admin"},
        headers=SAME_ORIGIN,
    )
    assert made.status_code == 303
    assert made.headers["location"] == "/dashboard?info=role_changed#admin"
    assert "stytch_admin" in _member(web, colleague.id).roles

    web.form("/dashboard/admin/mfa", {"require_mfa": "on"}, headers=SAME_ORIGIN)
    assert _org(web, org_id).mfa_policy == "REQUIRED_FOR_ALL"
    web.form("/dashboard/admin/mfa", {}, headers=SAME_ORIGIN)
    assert _org(web, org_id).mfa_policy == "OPTIONAL"
    web.form(
        "/dashboard/admin/domains",
        {"domains": "initech.example\nlabs.example"},
        headers=SAME_ORIGIN,
    )
    assert _org(web, org_id).email_allowed_domains == ["initech.example", "labs.example"]

    # Back to member: the colleague's other roles are kept.
    web.form(
        "/dashboard/admin/role",
        {"member_id": colleague.id, "role": "stytch_member"},
        headers=SAME_ORIGIN,
    )
    assert _member(web, colleague.id).roles == []


def test_the_last_admin_cannot_demote_themself(web: Web, engine: Engine) -> None:
    org_id, _ = _admin_of_new_org(web)
    page = web.get("/dashboard")
    assert "Manage your organization" in page.text
    me = next(m for m in _members(web, org_id) if m.email_address == "al@initech.example")
    before = snapshot(engine, TABLES)
    refused = web.form(
        "/dashboard/admin/role", {"member_id": me.id, "role": "stytch_member"}, headers=SAME_ORIGIN
    )
    assert refused.headers["location"].startswith("/dashboard?error=last_admin")
    assert snapshot(engine, TABLES) == before
    assert "needs at least one admin" in web.get(refused.headers["location"]).text


def _members(web: Web, org_id: str) -> list[Member]:
    with web.services.sessions() as session:
        return list(session.query(Member).filter_by(organization_id=org_id))


def test_a_plain_member_sees_no_admin_section_and_is_refused(
    web: Web, acme: Organization, ada: Member, engine: Engine
) -> None:
    colleague = make_member(
        web.services, web.project.project_id, acme, email_address="cy@acme.example"
    )
    web.login("ada@acme.example", acme.id)
    page = web.get("/dashboard")
    assert page.status_code == 200
    assert "Manage your organization" not in page.text
    before = snapshot(engine, TABLES)
    for path, data in (
        ("/dashboard/admin/role", {"member_id": colleague.id, "role": "stytch_admin"}),
        ("/dashboard/admin/role", {"member_id": ada.id, "role": "stytch_admin"}),
        ("/dashboard/admin/mfa", {"require_mfa": "on"}),
        ("/dashboard/admin/domains", {"domains": "evil.example"}),
    ):
        refused = web.form(path, data, headers=SAME_ORIGIN)
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/dashboard?error="), path
        assert "role_changed" not in refused.headers["location"]
    assert snapshot(engine, TABLES) == before
    shown = web.get("/dashboard?error=not_permitted")
    assert "does not allow that" in shown.text


def test_admin_forms_refuse_cross_site_posts(web: Web, engine: Engine) -> None:
    _, colleague = _admin_of_new_org(web)
    before = snapshot(engine, TABLES)
    refused = web.form(
        "/dashboard/admin/role",
        {"member_id": colleague.id, "role": "stytch_admin"},
        headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert "role_changed" not in refused.headers.get("location", "")
    assert snapshot(engine, TABLES) == before


# -- custom roles: the section shows what the server grants, and the server still decides ----


def _with_role(web: Web, org: Organization, role_id: str, actions: list[str], email: str) -> Member:
    """A member of `org` whose only role beyond stytch_member is the custom `role_id`,
    granting `actions` on stytch.member."""
    with web.services.scope(web.project.project_id, "test", "test") as scope:
        stored = scope.db.get(Organization, org.id)
        assert stored is not None
        rbac.set_org_roles(
            scope,
            stored,
            {
                "roles": [
                    {
                        "role_id": role_id,
                        "description": "A custom role of this organization.",
                        "permissions": [{"resource_id": "stytch.member", "actions": actions}],
                    }
                ]
            },
        )
    return make_member(
        web.services,
        web.project.project_id,
        _org(web, org.id),
        email_address=email,
        roles=[role_id],
    )


def test_a_role_that_may_invite_but_not_search_sees_the_invite_form_alone(
    web: Web, acme: Organization, ada: Member, engine: Engine
) -> None:
    """`stytch.member: create` without `search`: the section is there with "Invite a
    colleague" and nothing else (no member list, no role buttons, no organization settings);
    the invitation works; everything else is still refused by the server."""
    _with_role(web, acme, "recruiter", ["create"], "rex@acme.example")
    web.login("rex@acme.example", acme.id)
    page = html.unescape(web.get("/dashboard").text)
    assert "Manage your organization" in page
    assert "Invite a colleague" in page
    assert 'class="members"' not in page
    assert "ada@acme.example" not in page
    assert "Make admin" not in page
    assert "Require MFA for every member" not in page
    assert "Save domains" not in page

    sent = web.post("/api/team/invite", {"email": "ivy@partner.example", "name": "Ivy"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["member"]["status"] == "invited"
    assert web.link_token("ivy@partner.example")
    ivy = next(m for m in _members(web, acme.id) if m.email_address == "ivy@partner.example")
    assert ivy.status == "invited"

    before = snapshot(engine, (*TABLES, "magic_links", "outbox_messages"))
    for path, body in (
        ("/api/team/resend", {"memberId": ivy.id}),  # finding the invitation needs search
        ("/api/team/revoke", {"memberId": ivy.id}),
        ("/dashboard/admin/role", {"member_id": ada.id, "role": "stytch_admin"}),
        ("/dashboard/admin/mfa", {"require_mfa": "on"}),
        ("/dashboard/admin/domains", {"domains": "evil.example"}),
    ):
        refused = web.post(path, body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"] == "not_permitted", path
    assert snapshot(engine, (*TABLES, "magic_links", "outbox_messages")) == before


def test_a_role_that_may_search_and_revoke_but_not_invite(
    web: Web, acme: Organization, ada: Member, engine: Engine
) -> None:
    """`stytch.member: search, delete` without `create`: the list shows Revoke on an open
    invitation but no Resend, no invite form and no role buttons; resending is refused by the
    server, revoking works."""
    with web.services.scope(web.project.project_id, "test", "test") as scope:
        links.invite(
            scope,
            organization_id=acme.id,
            email_address="ivy@partner.example",
            invite_redirect_url=f"{BASE}/auth/callback",
        )
    _with_role(web, acme, "gatekeeper", ["search", "delete"], "gil@acme.example")
    # The organization has an admin (a member's session may not leave it without one).
    make_member(
        web.services,
        web.project.project_id,
        _org(web, acme.id),
        email_address="al@acme.example",
        roles=["stytch_admin"],
    )
    web.login("gil@acme.example", acme.id)
    page = html.unescape(web.get("/dashboard").text)
    assert "Manage your organization" in page
    assert "Revoke the invitation of ivy@partner.example" in page
    assert "Resend the invitation" not in page
    assert "Invite a colleague" not in page
    assert "Make admin" not in page
    ivy = next(m for m in _members(web, acme.id) if m.email_address == "ivy@partner.example")
    tables = (*TABLES, "magic_links", "outbox_messages")
    before = snapshot(engine, tables)
    for path, body in (
        ("/api/team/resend", {"memberId": ivy.id}),
        ("/api/team/invite", {"email": "eve@partner.example"}),
    ):
        refused = web.post(path, body)
        assert refused.status_code == 403, (path, refused.text)
        assert refused.json()["error"] == "not_permitted"
    assert snapshot(engine, tables) == before
    revoked = web.post("/api/team/revoke", {"memberId": ivy.id})
    assert revoked.status_code == 200, revoked.text
    assert "ivy@partner.example" not in {m.email_address for m in _members(web, acme.id)}
