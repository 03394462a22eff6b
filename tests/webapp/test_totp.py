"""The reference app's authenticator app (TOTP) and recovery codes, on both backends: setting
one up from the dashboard, the MFA step's choices, signing in with a code from the app or a
recovery code, regenerating recovery codes, and the refusals in words."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import httpx
import pyotp
import pytest

from antechamber.clock import FrozenClock
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.totp import recovery
from antechamber.webapp.cookies import Pending
from antechamber.webapp.errors import BACKEND_CODES, MESSAGES, NOTICES, TOTP_CODES
from antechamber.webapp.totp_actions import RECOVERY, SMS, TOTP, mfa_choices
from tests.conftest import Credentials
from tests.factories import enrol_totp, make_member, make_org, verify_phone
from tests.webapp.conftest import JWT_SHAPE, Web

SECRET = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
SEALED = re.compile(r'name="setup" value="([^"]+)"')
CODES = re.compile(r'<pre class="codes" id="recovery-codes">([^<]*)</pre>')


@pytest.fixture
def strict(services: Services, project: Credentials) -> Organization:
    return make_org(
        services,
        project.project_id,
        organization_name="Strict",
        organization_slug="strict",
        mfa_policy="REQUIRED_FOR_ALL",
    )


def enrol_then_require(
    services: Services,
    project: Credentials,
    org: Organization,
    member: Member,
    **policy: object,
) -> str:
    """`enrol_totp` (which signs in with the link alone), then the organization's real
    policy: a session could not start under it without MFA."""
    from antechamber.organizations import service as organizations

    strict_fields = {"mfa_policy": "REQUIRED_FOR_ALL", **policy}
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(
            scope, org.id, {"mfa_policy": "OPTIONAL", "mfa_methods": "ALL_ALLOWED"}
        )
    secret = enrol_totp(services, project.project_id, org, member)
    with services.scope(project.project_id, "test", "test") as scope:
        organizations.update_organization(scope, org.id, strict_fields)
    return secret


def code_at(secret: str, clock: FrozenClock) -> str:
    return pyotp.TOTP(secret).at(clock.now())


def secret_page(page: httpx.Response) -> str:
    match = SECRET.search(page.text)
    assert match, page.text
    return match.group(1).replace(" ", "")


def shown_codes(page: httpx.Response) -> list[str]:
    match = CODES.search(page.text)
    assert match, page.text
    return match.group(1).split()


def assert_secret_page(page: httpx.Response) -> None:
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["referrer-policy"] == "no-referrer"


def set_up_app(web: Web, clock: FrozenClock) -> tuple[str, list[str]]:
    """From the dashboard, as a browser without JavaScript: the secret and recovery codes."""
    started = web.form("/dashboard/totp")
    assert started.status_code == 200, started.text
    assert_secret_page(started)
    secret = secret_page(started)
    sealed = SEALED.search(started.text)
    assert sealed
    assert 'src="data:image/png;base64,' in started.text
    done = web.form(
        "/dashboard/totp/confirm", {"setup": sealed.group(1), "code": code_at(secret, clock)}
    )
    assert done.status_code == 200, done.text
    assert_secret_page(done)
    return secret, shown_codes(done)


def test_set_up_an_authenticator_app_then_sign_in_with_it(
    web: Web, clock: FrozenClock, acme: Organization, ada: Member
) -> None:
    web.login("ada@acme.example", acme.id)
    dashboard = web.get("/dashboard")
    assert "Set up an authenticator app" in dashboard.text

    started = web.form("/dashboard/totp")
    secret = secret_page(started)
    assert secret not in str(started.url)
    assert secret not in started.headers.get("location", "")
    assert len(secret) == 32
    sealed = SEALED.search(started.text)
    assert sealed
    assert secret not in sealed.group(1)

    # A wrong first code: the same setup again, with the reason (the app already has it).
    wrong = web.form("/dashboard/totp/confirm", {"setup": sealed.group(1), "code": "000000"})
    if wrong.status_code != 200:  # 000000 could be right, once in a million
        assert secret_page(wrong) == secret
        assert "That code isn&#39;t right" in wrong.text
    bad = web.form("/dashboard/totp/confirm", {"setup": sealed.group(1), "code": "12345"})
    assert bad.status_code == 400
    assert "6-digit code your authenticator app" in bad.text

    clock.advance(seconds=30)
    done = web.form(
        "/dashboard/totp/confirm", {"setup": sealed.group(1), "code": code_at(secret, clock)}
    )
    assert done.status_code == 200, done.text
    assert_secret_page(done)
    codes = shown_codes(done)
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z2-7]{6}(-[a-z2-7]{6}){3}", c) for c in codes)
    download = re.search(r'href="data:text/plain;charset=utf-8,([^"]+)" download="acme-', done.text)
    assert download
    assert codes[0] in unquote(download.group(1))
    assert 'data-copy="recovery-codes"' in done.text
    assert JWT_SHAPE.search(done.text) is None

    # Confirming again with the same sealed setup shows nothing twice.
    again = web.form(
        "/dashboard/totp/confirm", {"setup": sealed.group(1), "code": code_at(secret, clock)}
    )
    assert again.status_code == 303
    assert again.headers["location"] == "/dashboard?error=totp_setup_expired"

    me = web.get("/dashboard")
    assert "Regenerate recovery codes" in me.text
    assert "Set up an authenticator app" not in me.text
    assert "a code from your authenticator app" in me.text
    assert web.post("/api/auth/logout").status_code == 200

    # The next sign-in stops for MFA (setting the app up turned it on) and opens on the app.
    web.discover("ada@acme.example")
    stepped = web.select(acme.id).json()
    assert stepped["redirectPath"] == "/smsmfa"
    page = web.get("/smsmfa")
    assert 'action="/api/mfa/totp/authenticate"' in page.text
    assert 'href="/smsmfa?method=recovery"' in page.text
    assert "Text a code" not in page.text  # no verified phone
    same_step = web.post("/api/mfa/totp/authenticate", {"code": code_at(secret, clock)})
    assert same_step.status_code == 400
    assert same_step.json()["error"] == "totp_code_used"
    clock.advance(seconds=30)
    signed = web.post("/api/mfa/totp/authenticate", {"code": code_at(secret, clock)})
    assert signed.status_code == 200, signed.text
    assert signed.json() == {
        "message": "TOTP Authentication successful",
        "redirectPath": "/dashboard",
    }
    assert web.get("/dashboard").status_code == 200


def test_sign_in_with_a_recovery_code_once(
    web: Web,
    services: Services,
    project: Credentials,
    clock: FrozenClock,
    strict: Organization,
) -> None:
    member = make_member(services, project.project_id, strict, email_address="bo@strict.example")
    enrol_then_require(services, project, strict, member)
    with services.scope(project.project_id, "test", "test") as scope:
        codes = recovery.rotate_recovery_codes(
            scope, organization_id=strict.id, member_id=member.id
        ).recovery_codes

    web.discover("bo@strict.example")
    assert web.select(strict.id).json()["redirectPath"] == "/smsmfa"
    page = web.get("/smsmfa?method=recovery")
    assert 'action="/api/mfa/recover"' in page.text
    assert 'href="/smsmfa?method=totp"' in page.text
    shaped = web.post("/api/mfa/recover", {"recoveryCode": "123456"})
    assert shaped.json()["error"] == "totp_code_as_recovery"
    wrong = web.post("/api/mfa/recover", {"recoveryCode": "AAAAAA-AAAAAA-AAAAAA-AAAAAA"})
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "recovery_wrong"
    done = web.post("/api/mfa/recover", {"recoveryCode": codes[0].upper()})
    assert done.status_code == 200, done.text
    assert done.json()["redirectPath"] == "/dashboard?info=recovery_used"
    assert done.json()["recoveryCodesRemaining"] == 9
    assert "You signed in with a recovery code" in web.get("/dashboard?info=recovery_used").text
    web.post("/api/auth/logout")

    web.discover("bo@strict.example")
    web.select(strict.id)
    used = web.form("/api/mfa/recover", {"recoveryCode": codes[0]})
    assert used.status_code == 303
    assert used.headers["location"] == "/smsmfa?method=recovery&error=recovery_wrong"
    assert "each one works once" in web.get(used.headers["location"]).text


def test_regenerate_recovery_codes(
    web: Web,
    services: Services,
    project: Credentials,
    clock: FrozenClock,
    strict: Organization,
) -> None:
    member = make_member(services, project.project_id, strict, email_address="cy@strict.example")
    secret = enrol_then_require(services, project, strict, member)
    clock.advance(seconds=30)
    web.discover("cy@strict.example")
    web.select(strict.id)
    assert (
        web.post("/api/mfa/totp/authenticate", {"code": code_at(secret, clock)}).status_code == 200
    )

    confirm = web.get("/dashboard/recovery-codes")
    assert "Regenerate recovery codes?" in confirm.text
    rotated = web.form("/dashboard/recovery-codes")
    assert rotated.status_code == 200, rotated.text
    assert_secret_page(rotated)
    codes = shown_codes(rotated)
    assert len(codes) == 10
    assert "The old ones no longer work" in rotated.text
    again = shown_codes(web.form("/dashboard/recovery-codes"))
    assert set(again).isdisjoint(codes)
    web.post("/api/auth/logout")

    web.discover("cy@strict.example")
    web.select(strict.id)
    assert web.post("/api/mfa/recover", {"recoveryCode": codes[1]}).status_code == 401
    assert web.post("/api/mfa/recover", {"recoveryCode": again[1]}).status_code == 200


def test_regenerating_needs_a_session_that_passed_mfa(
    web: Web, services: Services, project: Credentials, acme: Organization, ada: Member
) -> None:
    """An OPTIONAL organization, an app set up but MFA off: the email link alone signs in,
    and must not be enough to mint recovery codes."""
    enrol_totp(services, project.project_id, acme, ada)
    web.login("ada@acme.example", acme.id)
    refused = web.form("/dashboard/recovery-codes")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/dashboard?error=recovery_codes_need_mfa"
    assert "<pre" not in refused.text


def test_adding_an_app_next_to_a_verified_phone_needs_mfa(
    web: Web, services: Services, project: Credentials, acme: Organization, ada: Member
) -> None:
    """A member whose phone is verified, signed in by the link alone (MFA off): the server
    refuses a new factor, and the app says how to get one added."""
    with services.scope(project.project_id, "test", "test") as scope:
        from antechamber.members import service as members

        members.update_member(scope, acme, ada.id, {"mfa_phone_number": "+12025550111"})
    verify_phone(services, ada)
    web.login("ada@acme.example", acme.id)
    refused = web.form("/dashboard/totp")
    assert refused.status_code == 303
    assert refused.headers["location"] == "/dashboard?error=totp_needs_mfa"
    page = web.get(refused.headers["location"])
    assert "first sign in again with a code from your phone" in page.text


def test_a_sealed_setup_is_bound_to_its_member(
    web: Web, services: Services, project: Credentials, acme: Organization, ada: Member
) -> None:
    make_member(services, project.project_id, acme, email_address="eve@acme.example")
    web.login("ada@acme.example", acme.id)
    sealed = SEALED.search(web.form("/dashboard/totp").text)
    assert sealed
    web.post("/api/auth/logout")
    web.login("eve@acme.example", acme.id)
    stolen = web.form("/dashboard/totp/confirm", {"setup": sealed.group(1), "code": "123456"})
    assert stolen.headers["location"] == "/dashboard?error=totp_setup_expired"
    tampered = web.form("/dashboard/totp/confirm", {"setup": sealed.group(1)[:-4] + "AAAA"})
    assert tampered.headers["location"] == "/dashboard?error=totp_setup_expired"


def test_the_dashboard_posts_are_refused_cross_site(
    inprocess: Web, acme: Organization, ada: Member
) -> None:
    inprocess.login("ada@acme.example", acme.id)
    for path in ("/dashboard/totp", "/dashboard/totp/confirm", "/dashboard/recovery-codes"):
        answer = inprocess.form(
            path, headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
        )
        assert answer.status_code == 303, path
        assert answer.headers["location"] == "/dashboard?error=cross_site", path


def test_signed_out_the_dashboard_posts_go_to_sign_in(inprocess: Web) -> None:
    for path in ("/dashboard/totp", "/dashboard/totp/confirm", "/dashboard/recovery-codes"):
        answer = inprocess.form(path)
        assert answer.headers["location"] == "/?error=not_signed_in", path
    assert inprocess.get("/dashboard/recovery-codes").headers["location"] == (
        "/?error=not_signed_in"
    )


def test_an_organization_restricted_to_apps_offers_no_sms(
    inprocess: Web, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    org = make_org(
        services,
        project.project_id,
        organization_name="Apps Only",
    )
    member = make_member(services, project.project_id, org, email_address="di@apps.example")
    secret = enrol_then_require(
        services, project, org, member, mfa_methods="RESTRICTED", allowed_mfa_methods=["totp"]
    )
    with services.scope(project.project_id, "test", "test") as scope:
        from antechamber.members import service as members

        members.update_member(scope, org, member.id, {"mfa_phone_number": "+12025550122"})
    verify_phone(services, member)
    inprocess.discover("di@apps.example")
    inprocess.select(org.id)
    page = inprocess.get("/smsmfa?method=sms")  # asked for, not offered: the app instead
    assert 'action="/api/mfa/totp/authenticate"' in page.text
    assert "/api/mfa/send" not in page.text
    assert "Text a code" not in page.text
    clock.advance(seconds=30)
    done = inprocess.form("/api/mfa/totp/authenticate", {"code": code_at(secret, clock)})
    assert done.headers["location"] == "/dashboard"


def test_the_totp_form_without_javascript(
    inprocess: Web, services: Services, project: Credentials, strict: Organization
) -> None:
    member = make_member(services, project.project_id, strict, email_address="fa@strict.example")
    enrol_then_require(services, project, strict, member)
    inprocess.discover("fa@strict.example")
    inprocess.select(strict.id)
    shaped = inprocess.form("/api/mfa/totp/authenticate", {"code": "12"})
    assert shaped.headers["location"] == "/smsmfa?method=totp&error=invalid_totp_code"
    recovery = inprocess.form("/api/mfa/totp/authenticate", {"code": "ABCDEF-GHJKLM-NPQRST-234567"})
    assert recovery.headers["location"] == "/smsmfa?method=totp&error=recovery_code_as_totp"
    page = inprocess.get(recovery.headers["location"])
    assert "That looks like a recovery code" in page.text


# -- the MFA step's choices ---------------------------------------------------------------------


def _login(**fields: object) -> Pending:
    return Pending(ist="ist", email="a@b.example", organization_id="o", member_id="m", **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "default", "sms", "app"),
    [
        ({}, SMS, True, False),
        ({"totp": True}, TOTP, True, True),
        ({"totp": True, "phone_verified": True}, TOTP, True, True),
        ({"totp": True, "phone_verified": True, "default_method": "sms_otp"}, SMS, True, True),
        ({"totp": True, "phone_verified": True, "sent_at": 1}, SMS, True, True),
        ({"totp": True, "sms_allowed": False, "sent_at": 1}, TOTP, False, True),
        ({"totp": True, "totp_allowed": False}, SMS, True, False),
        ({"sms_allowed": False}, "", False, False),
    ],
)
def test_mfa_choices(fields: dict[str, object], default: str, sms: bool, app: bool) -> None:
    choices = mfa_choices(_login(**fields))
    assert (choices.default, choices.sms, choices.totp) == (default, sms, app)
    assert choices.shown(RECOVERY) == (RECOVERY if app else default)
    assert choices.shown(SMS) == (SMS if sms else default)


def test_every_totp_failure_has_words() -> None:
    for code in [*BACKEND_CODES.values(), *TOTP_CODES.values()]:
        assert code in MESSAGES, code
    assert {"recovery_used", "recovery_none_left"} <= set(NOTICES)


def test_codes_expire_with_the_setup(
    web: Web, clock: FrozenClock, acme: Organization, ada: Member
) -> None:
    web.login("ada@acme.example", acme.id)
    started = web.form("/dashboard/totp")
    sealed = SEALED.search(started.text)
    assert sealed
    clock.advance(timedelta(minutes=61))
    web.reset_limits()
    late = web.form("/dashboard/totp/confirm", {"setup": sealed.group(1), "code": "123456"})
    assert late.status_code == 303
    # The session (60 minutes) has ended too: sign in again, whichever is said first.
    assert late.headers["location"] in (
        "/dashboard?error=totp_setup_expired",
        "/?error=session_expired",
    )


def test_an_organization_that_allows_only_apps_says_so_to_a_member_without_one(
    inprocess: Web, services: Services, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        organization_name="Apps Only",
        mfa_policy="REQUIRED_FOR_ALL",
        mfa_methods="RESTRICTED",
        allowed_mfa_methods=["totp"],
    )
    make_member(services, project.project_id, org, email_address="gi@apps.example")
    inprocess.discover("gi@apps.example")
    assert inprocess.select(org.id).json()["redirectPath"] == "/smsmfa"
    page = inprocess.get("/smsmfa")
    assert page.status_code == 403
    assert "Ask an admin of your organization" in page.text
    assert "<form" not in page.text
