"""The dashboard's organization admin section, over both backends: every change is made with
the signed-in member's session, so the server's RBAC decides (webapp/admin_section.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from tests.dbsnap import snapshot
from tests.factories import make_member
from tests.webapp.conftest import SAME_ORIGIN, Web

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
