"""The tutorial's flows over the JSON API, on both backends: its request bodies, its response
fields, and what each step leaves in the cookies."""

from __future__ import annotations

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.cookiejar import replace_cookie
from tests.factories import make_member
from tests.webapp.conftest import JWT_SHAPE, Web, requires_sms


def test_start_sends_a_link_to_the_apps_callback(web: Web) -> None:
    answer = web.post("/api/discovery/start", {"email": "Ada@Acme.example"})
    assert answer.status_code == 200
    assert answer.json()["message"] == "Email sent"
    [message] = web.messages("ada@acme.example")
    assert str(message["url"]).startswith("http://testserver/auth/callback?")


def test_callback_lists_the_organizations_without_any_token(
    web: Web, acme: Organization, ada: Member
) -> None:
    token = web.email_link("ada@acme.example")
    answer = web.post("/api/auth/callback", {"token": token, "stytch_token_type": "discovery"})
    assert answer.status_code == 200
    body = answer.json()
    assert body["email_address"] == "ada@acme.example"
    assert body["redirectPath"] == "/discovery"
    [found] = body["discovered_organizations"]
    assert found["organization"]["organization_id"] == acme.id
    assert found["organization"]["organization_name"] == "Acme"
    assert found["membership"]["type"] == "active_member"
    assert "intermediate_session_token" not in answer.text
    pending = web.pending()
    assert pending is not None
    assert pending.ist not in answer.text


def test_flow_1_optional_org_member_not_enrolled(web: Web, acme: Organization, ada: Member) -> None:
    """email → link → discovery → dashboard, no MFA (the tutorial's first flow)."""
    selected = web.login("ada@acme.example", acme.id)
    assert selected == {
        "message": "Auth complete",
        "redirectPath": "/dashboard",
        "organizationId": acme.id,
    }
    assert JWT_SHAPE.fullmatch(web.cookie("session") or "")
    assert web.cookie("intermediate_session") is None

    me = web.post("/api/discovery/get-organization")
    assert me.status_code == 200
    body = me.json()
    assert body["organization"]["organization_name"] == "Acme"
    assert body["organization"]["mfa_policy"] == "OPTIONAL"
    assert body["member"]["email_address"] == "ada@acme.example"
    assert body["member"]["mfa_enrolled"] is False
    assert body["mfa"]["canOptIn"] is True
    assert not JWT_SHAPE.search(me.text)


def test_create_makes_the_creator_admin_and_lets_their_domain_join(web: Web) -> None:
    created = web.create("founder@initech.example", "Initech")
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["message"] == "Organization created"
    assert body["redirectPath"] == "/dashboard"
    me = web.post("/api/discovery/get-organization").json()
    assert me["organization"]["organization_id"] == body["organizationId"]
    assert me["member"]["is_admin"] is True
    assert me["organization"]["email_allowed_domains"] == ["initech.example"]
    assert me["organization"]["email_jit_provisioning"] == "RESTRICTED"

    # A colleague at the same domain finds it at discovery and joins it.
    web.client.cookies.clear()
    found = web.discover("peter@initech.example")["discovered_organizations"]
    assert [f["membership"]["type"] for f in found] == ["eligible_to_join_by_email_domain"]
    assert found[0]["membership"]["details"] == {"domain": "initech.example"}
    joined = web.select(body["organizationId"])
    assert joined.status_code == 200
    assert joined.json()["redirectPath"] == "/dashboard"


def test_create_skips_the_domain_of_webmail(web: Web) -> None:
    created = web.create("someone@gmail.com", "Side project")
    assert created.status_code == 200, created.text
    me = web.post("/api/discovery/get-organization").json()
    assert me["organization"]["email_allowed_domains"] == []
    assert me["organization"]["email_jit_provisioning"] != "RESTRICTED"
    assert me["member"]["is_admin"] is True


def test_create_with_require_mfa_goes_to_the_sms_step(web: Web) -> None:
    created = web.create("founder@hooli.example", "Hooli", require_mfa=True)
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["message"] == "Organization created. Proceed for MFA"
    assert body["redirectPath"] == "/smsmfa"  # no ids in the URL
    assert web.cookie("session") is None
    pending = web.pending()
    assert pending is not None
    assert pending.organization_id == body["organizationId"]
    assert pending.organization_name == "Hooli"
    assert pending.sent_at == 0
    page = web.get("/smsmfa")
    assert page.status_code == 200
    assert 'autocomplete="tel"' in page.text


def test_opt_in_then_out(web: Web, acme: Organization, ada: Member) -> None:
    web.login("ada@acme.example", acme.id)
    on = web.post("/api/mfa/update", {"mfaOptIn": True})
    assert on.status_code == 200, on.text
    assert on.json()["member"]["mfa_enrolled"] is True
    assert on.json()["message"] == "MFA opt-in updated successfully"
    # No phone verified yet, so turning it off again needs no second factor.
    off = web.post("/api/mfa/update", {"mfaOptIn": False})
    assert off.status_code == 200, off.text
    assert off.json()["member"]["mfa_enrolled"] is False


def test_logout_revokes_and_forgets(web: Web, acme: Organization, ada: Member) -> None:
    web.login("ada@acme.example", acme.id)
    session = web.cookie("session")
    out = web.post("/api/auth/logout")
    assert out.status_code == 200
    assert out.json()["message"] == "Logged out"
    assert web.cookie("session") is None
    # The JWT is dead on the server too: putting it back does not bring the session back
    # for anything that asks the server.
    assert session is not None
    replace_cookie(web.client, "session", session)
    assert web.post("/api/mfa/update", {"mfaOptIn": True}).status_code == 401


@requires_sms
def test_flow_2_required_mfa_phone_then_code(web: Web) -> None:
    """Create with Require MFA → phone → code → dashboard (the tutorial's second flow)."""
    web.create("founder@hooli.example", "Hooli", require_mfa=True)
    sent = web.post("/api/mfa/send", {"phoneNumber": "+1 202 555 0143"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["redirectPath"].startswith("/smsmfa?sent=true")
    code = web.sms_code("+12025550143")
    done = web.post("/api/mfa/authenticate", {"code": code})
    assert done.status_code == 200, done.text
    assert done.json() == {"message": "OTP Authentication successful", "redirectPath": "/dashboard"}
    me = web.post("/api/discovery/get-organization").json()
    assert me["member"]["mfa_enrolled"] is True
    assert me["member"]["mfa_phone_number"].endswith("0143")
    assert "+12025550143" not in str(me)  # masked


@requires_sms
def test_flow_3_opt_in_log_in_with_mfa_opt_out(web: Web, acme: Organization, ada: Member) -> None:
    """Opt in, log out, log in through MFA, opt out, log in without it (the third flow)."""
    web.login("ada@acme.example", acme.id)
    assert web.post("/api/mfa/update", {"mfaOptIn": True}).status_code == 200
    assert web.post("/api/auth/logout").status_code == 200

    web.discover("ada@acme.example")
    stepped = web.select(acme.id).json()
    assert stepped["redirectPath"] == "/smsmfa"  # no phone yet: nothing was sent
    web.post("/api/mfa/send", {"phoneNumber": "+12025550177"})
    done = web.post("/api/mfa/authenticate", {"code": web.sms_code("+12025550177")})
    assert done.status_code == 200, done.text

    off = web.post("/api/mfa/update", {"mfaOptIn": False})
    assert off.status_code == 200, off.text
    assert web.post("/api/auth/logout").status_code == 200
    web.login("ada@acme.example", acme.id)  # straight to the dashboard


@requires_sms
def test_an_enrolled_member_gets_the_code_automatically(
    web: Web, services: Services, project: Credentials, acme: Organization
) -> None:
    """The server texts the code when the login stops for MFA; the app does not ask for the
    phone again and does not send a second code (seed-app.md §4 item 20)."""
    make_member(services, project.project_id, acme, email_address="eve@acme.example")
    web.login("eve@acme.example", acme.id)
    web.post("/api/mfa/update", {"mfaOptIn": True})
    web.post("/api/auth/logout")
    web.discover("eve@acme.example")
    web.select(acme.id)
    web.post("/api/mfa/send", {"phoneNumber": "+12025550188"})
    web.post("/api/mfa/authenticate", {"code": web.sms_code("+12025550188")})
    web.post("/api/auth/logout")
    web.reset_limits()  # one text per number per 30 s (wall clock)

    web.discover("eve@acme.example")
    stepped = web.select(acme.id).json()
    assert stepped["redirectPath"] == "/smsmfa?sent=true"
    assert len(web.messages("+12025550188")) == 2
    page = web.get("/smsmfa?sent=true")
    assert "+1******0188" in page.text
    assert 'autocomplete="one-time-code"' in page.text
    assert 'name="phoneNumber"' not in page.text
