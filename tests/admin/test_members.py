"""Members in the console: find, read, add, make or remove admin, unlock, reset the SMS
phone, remove; each change an audit event naming the operator."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from antechamber.audit import service as audit
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.otp import sms
from antechamber.otp.models import SmsOtp
from antechamber.services import Services
from antechamber.totp.models import TotpRegistration
from tests.admin.conftest import Console, OperatorInfo, member_row
from tests.conftest import Credentials
from tests.factories import enrol_totp, lock_member, make_member, make_org

PHONE = "+12025550123"


@pytest.fixture
def org(services: Services, project: Credentials) -> Organization:
    return make_org(
        services, project.project_id, organization_name="Acme", organization_slug="acme"
    )


@pytest.fixture
def ada(services: Services, project: Credentials, org: Organization) -> Member:
    return make_member(
        services,
        project.project_id,
        org,
        email_address="ada@acme.example",
        name="Ada Lovelace",
        mfa_phone_number=PHONE,
    )


def base(project: Credentials, org: Organization) -> str:
    return f"/admin/projects/{project.project_id}/orgs/{org.id}"


def events(services: Services, event_type: str) -> list[tuple[str, str | None]]:
    with services.sessions() as session:
        return [(e.actor, e.member_id) for e in audit.list_events(session, event_type=event_type)]


def test_find_a_member(
    console: Console, project: Credentials, org: Organization, ada: Member, services: Services
) -> None:
    make_member(services, project.project_id, org, email_address="bob@acme.example")
    page = console.get(base(project, org), params={"q": "ada@"}).text
    assert "ada@acme.example" in page
    assert "bob@acme.example" not in page
    assert "1 member matching" in page
    short = console.get(base(project, org), params={"q": "ad"})
    assert short.status_code == 400
    assert "at least 3 characters" in short.text


def test_member_details(
    console: Console, project: Credentials, org: Organization, ada: Member
) -> None:
    page = console.get(f"{base(project, org)}/members/{ada.id}")
    assert page.status_code == 200
    for text in ("ada@acme.example", "Ada Lovelace", PHONE, "not verified", "member.created"):
        assert text in page.text


def test_add_a_member(
    console: Console,
    project: Credentials,
    org: Organization,
    services: Services,
    operator: OperatorInfo,
) -> None:
    response = console.post(
        f"{base(project, org)}/members/new",
        {"email_address": "Grace@Acme.Example", "name": "Grace", "is_admin": "true"},
    )
    assert response.status_code == 303
    page = console.get(response.headers["location"]).text
    assert "Member grace@acme.example added." in page
    assert "stytch_admin" in page
    assert events(services, "member.created")[0][0] == f"operator:{operator.member_id}"


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        ({"email_address": "nope"}, "email_address", "email address is invalid"),
        ({"email_address": "ada@acme.example"}, "email_address", "already exists"),
        (
            {"email_address": "x@acme.example", "mfa_phone_number": "12"},
            "mfa_phone_number",
            "phone number is invalid",
        ),
        (
            {"email_address": "x@acme.example", "mfa_phone_number": PHONE},
            "mfa_phone_number",
            "uses this phone number",
        ),
    ],
)
def test_add_member_errors_are_shown_on_the_form(
    console: Console,
    project: Credentials,
    org: Organization,
    ada: Member,
    form: dict[str, str],
    field: str,
    message: str,
) -> None:
    response = console.post(f"{base(project, org)}/members/new", form)
    assert 400 <= response.status_code < 500
    assert f'id="{field}-error"' in response.text
    assert message in response.text


def test_make_and_remove_admin(
    console: Console, project: Credentials, org: Organization, ada: Member, services: Services
) -> None:
    path = f"{base(project, org)}/members/{ada.id}"
    assert "Make admin" in console.get(path).text
    response = console.post(f"{path}/admin", {"admin": "true"})
    assert response.status_code == 303
    page = console.get(path).text
    assert "ada@acme.example is now an admin." in page
    assert "Remove admin" in page
    assert member_row(services, ada.id).roles == ["stytch_admin"]
    console.post(f"{path}/admin", {"admin": "false"})
    assert member_row(services, ada.id).roles == []
    updates = events(services, "member.updated")
    assert len(updates) == 2
    assert all(actor.startswith("operator:") for actor, _ in updates)


def test_unlock_a_locked_member(
    console: Console, project: Credentials, org: Organization, ada: Member, services: Services
) -> None:
    lock_member(services, ada)
    path = f"{base(project, org)}/members/{ada.id}"
    page = console.get(path).text
    assert "Locked out of MFA" in page
    assert "Unlock now" in page
    assert console.post(f"{path}/unlock").status_code == 303
    page = console.get(path).text
    assert "is unlocked" in page
    assert "Locked out of MFA" not in page
    assert member_row(services, ada.id).lock_expires_at is None
    [(actor, member_id)] = events(services, "member.unlocked")
    assert actor.startswith("operator:")
    assert member_id == ada.id


def test_reset_the_sms_phone_after_confirmation(
    console: Console, project: Credentials, org: Organization, ada: Member, services: Services
) -> None:
    with services.scope(project.project_id, "test", "test") as scope:
        sms.issue_code(scope, ada, PHONE)
    path = f"{base(project, org)}/members/{ada.id}"
    confirm = console.get(f"{path}/reset-phone")
    assert "Reset the SMS phone of ada@acme.example?" in confirm.text
    assert member_row(services, ada.id).mfa_phone_number == PHONE  # asking changed nothing
    assert console.post(f"{path}/reset-phone").status_code == 303
    after = member_row(services, ada.id)
    assert (after.mfa_phone_number, after.mfa_phone_number_verified, after.phone_id) == (
        "",
        False,
        None,
    )
    with services.sessions() as session:
        assert session.scalars(select(SmsOtp)).all() == []
    assert "The SMS phone of ada@acme.example was reset." in console.get(path).text
    assert events(services, "member.mfa_phone_reset")[0][0].startswith("operator:")


def test_remove_a_member_after_confirmation(
    console: Console, project: Credentials, org: Organization, ada: Member, services: Services
) -> None:
    path = f"{base(project, org)}/members/{ada.id}"
    assert "Remove the member of ada@acme.example?" in console.get(f"{path}/delete").text
    response = console.post(f"{path}/delete")
    assert response.status_code == 303
    assert "was removed from the organization" in console.get(response.headers["location"]).text
    assert console.get(path).status_code == 404
    assert events(services, "member.deleted")[0][0].startswith("operator:")


def test_a_member_of_another_organization_is_not_found(
    console: Console, project: Credentials, org: Organization, services: Services
) -> None:
    elsewhere = make_org(services, project.project_id)
    stranger = make_member(services, project.project_id, elsewhere)
    path = f"{base(project, org)}/members/{stranger.id}"
    assert console.get(path).status_code == 404
    assert console.post(f"{path}/unlock").status_code == 404
    assert console.post(f"{path}/admin", {"admin": "true"}).status_code == 404
    assert member_row(services, stranger.id).roles == []


def test_unknown_member_pages_are_404(
    console: Console, project: Credentials, org: Organization, ada: Member
) -> None:
    assert console.get(f"{base(project, org)}/members/{ada.id}/frobnicate").status_code == 404
    assert console.get("/admin/nowhere").status_code == 404
    assert console.post("/admin/nowhere").status_code == 404
    bad = console.post(f"{base(project, org)}/members/{ada.id}/admin", {"admin": "maybe"})
    assert bad.status_code == 400
    assert "not understood" in bad.text


def test_sessions_are_listed_and_revoked_one_or_all(
    console: Console,
    project: Credentials,
    org: Organization,
    ada: Member,
    services: Services,
    operator: OperatorInfo,
) -> None:
    from tests.factories import start_session

    first, first_token, first_jwt = start_session(services, project.project_id, org, ada)
    second, second_token, _ = start_session(services, project.project_id, org, ada)
    bob = make_member(services, project.project_id, org, email_address="bob@acme.example")
    bobs, _, _ = start_session(services, project.project_id, org, bob)
    detail = f"{base(project, org)}/members/{ada.id}"
    page = console.get(detail).text
    assert first in page
    assert second in page
    assert bobs not in page
    assert "magic_link (email)" in page
    for secret in (first_token, second_token, first_jwt):
        assert secret not in page

    # Another member's session cannot be revoked through this member's page.
    refused = console.post(f"{detail}/sessions/{bobs}/revoke")
    assert refused.status_code == 404
    done = console.post(f"{detail}/sessions/{first}/revoke")
    assert done.status_code == 303
    page = console.get(detail).text
    assert f"Session {first} revoked." in page
    assert first not in page.split("Sessions", 1)[1].split("Recent activity")[0]
    again = console.post(f"{detail}/sessions/{first}/revoke")
    assert again.status_code == 404

    confirm = console.get(f"{detail}/revoke-sessions")
    assert confirm.status_code == 200
    assert "Revoke all sessions" in confirm.text
    done = console.post(f"{detail}/revoke-sessions", csrf=console.csrf(f"{detail}/revoke-sessions"))
    assert done.status_code == 303
    page = console.get(detail).text
    assert "1 session of ada@acme.example revoked." in page
    assert "No live session." in page
    revoked = [e for e in events(services, "session.revoked") if e[1] == ada.id]
    assert revoked == [(f"operator:{operator.member_id}", ada.id)] * 2
    empty = console.post(f"{detail}/revoke-sessions")
    assert empty.status_code == 303
    assert "had no live session" in console.get(detail).text


def test_session_revocation_needs_csrf(
    console: Console, project: Credentials, org: Organization, ada: Member, services: Services
) -> None:
    from tests.factories import start_session

    session_id, _, _ = start_session(services, project.project_id, org, ada)
    detail = f"{base(project, org)}/members/{ada.id}"
    for path in (f"{detail}/sessions/{session_id}/revoke", f"{detail}/revoke-sessions"):
        assert console.post(path, csrf="forged").status_code == 403
    assert session_id in console.get(detail).text


def test_reset_the_authenticator_app_after_confirmation(
    console: Console, project: Credentials, org: Organization, services: Services
) -> None:
    bob = make_member(services, project.project_id, org, email_address="bob@acme.example")
    enrol_totp(services, project.project_id, org, bob)
    path = f"{base(project, org)}/members/{bob.id}"
    assert "Reset authenticator app" in console.get(path).text
    confirm = console.get(f"{path}/reset-totp")
    assert "Reset the authenticator app of bob@acme.example?" in confirm.text
    assert member_row(services, bob.id).totp_registration_id != ""  # asking changed nothing
    assert console.post(f"{path}/reset-totp").status_code == 303
    assert member_row(services, bob.id).totp_registration_id == ""
    with services.sessions() as session:
        assert session.scalars(select(TotpRegistration)).all() == []
    assert "Reset authenticator app" not in console.get(path).text
    [(actor, member_id)] = events(services, "member.totp_reset")
    assert actor.startswith("operator:")
    assert member_id == bob.id
