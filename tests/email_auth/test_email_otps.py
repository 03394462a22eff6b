"""Email one-time codes as a primary factor (stytch-b2b-api-more.md §2)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.email_auth.models import EmailOtp
from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.dbsnap import dump_everything
from tests.email_auth.conftest import (
    OTP_AUTHENTICATE,
    OTP_DISCOVERY_AUTHENTICATE,
    OTP_DISCOVERY_SEND,
    OTP_LOGIN_OR_SIGNUP,
    email_code,
    newest,
)
from tests.factories import lock_member, make_member, make_org, message_ids
from tests.flows import EXCHANGE
from tests.snapshots import assert_refused, unchanged

ADA = "ada@acme.example"


def send_login_code(api: TestClient, services: Services, org_id: str, email: str = ADA) -> str:
    seen = message_ids(services, email)
    sent = api.post(OTP_LOGIN_OR_SIGNUP, json={"organization_id": org_id, "email_address": email})
    assert sent.status_code == 200, sent.json()
    return email_code(services, email, seen)


def send_discovery_code(api: TestClient, services: Services, email: str = ADA) -> str:
    seen = message_ids(services, email)
    sent = api.post(OTP_DISCOVERY_SEND, json={"email_address": email})
    assert sent.status_code == 200, sent.json()
    return email_code(services, email, seen)


def login(api: TestClient, org_id: str, code: str, email: str = ADA, **fields: object) -> object:
    return api.post(
        OTP_AUTHENTICATE,
        json={"organization_id": org_id, "email_address": email, "code": code, **fields},
    )


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_an_emailed_code_logs_an_active_member_in(
    api: TestClient, services: Services, acme: Organization, ada: Member
) -> None:
    code = send_login_code(api, services, acme.id)
    assert len(code) == 6
    assert code.isdigit()
    template, context = newest(services, ADA)
    assert (template, context["organization_name"]) == ("email_otp", "Acme")
    assert context["expiration_minutes"] == 10
    answer = login(api, acme.id, code)
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["member_authenticated"] is True
    assert body["member"]["status"] == "active"
    assert body["organization_id"] == acme.id
    assert body["method_id"].startswith("email-test-")
    [factor] = body["member_session"]["authentication_factors"]
    assert (factor["type"], factor["delivery_method"]) == ("email_otp", "email")
    # Single use.
    assert_refused(login(api, acme.id, code), 401, "unable_to_auth_otp_code")


def test_the_code_is_stored_only_as_a_keyed_hash(
    api: TestClient, services: Services, engine: Engine, acme: Organization, ada: Member
) -> None:
    code = send_login_code(api, services, acme.id)
    with services.sessions() as session:
        row = session.scalar(select(EmailOtp))
        assert row is not None
        assert code not in row.code_digest
        assert len(row.code_digest) == 64
    assert code not in dump_everything(engine)


def test_only_the_newest_code_works(
    api: TestClient, services: Services, acme: Organization, ada: Member
) -> None:
    first = send_login_code(api, services, acme.id)
    second = send_login_code(api, services, acme.id)
    if first != second:
        assert_refused(login(api, acme.id, first), 404, "otp_code_not_found")
    assert login(api, acme.id, second).status_code == 200


def test_a_pending_member_is_activated_and_a_new_one_joins_only_by_jit(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        email_jit_provisioning="RESTRICTED",
        email_allowed_domains=["acme.example"],
    )
    sent = api.post(OTP_LOGIN_OR_SIGNUP, json={"organization_id": org.id, "email_address": ADA})
    assert sent.json()["member_created"] is True
    assert sent.json()["member"]["status"] == "pending"
    code = email_code(services, ADA)
    assert login(api, org.id, code).json()["member"]["status"] == "active"
    closed = make_org(services, project.project_id)
    refused = api.post(
        OTP_LOGIN_OR_SIGNUP, json={"organization_id": closed.id, "email_address": ADA}
    )
    assert_refused(refused, 400, "email_jit_provisioning_not_allowed")


def test_email_otp_is_its_own_primary_factor_in_allowed_auth_methods(
    api: TestClient, services: Services, project: Credentials
) -> None:
    links_only = make_org(
        services, project.project_id, auth_methods="RESTRICTED", allowed_auth_methods=["magic_link"]
    )
    make_member(services, project.project_id, links_only, email_address=ADA)
    refused = api.post(
        OTP_LOGIN_OR_SIGNUP, json={"organization_id": links_only.id, "email_address": ADA}
    )
    assert_refused(refused, 400, "operation_restricted_by_organization_auth_methods")
    codes_only = make_org(
        services, project.project_id, auth_methods="RESTRICTED", allowed_auth_methods=["email_otp"]
    )
    make_member(services, project.project_id, codes_only, email_address=ADA)
    code = send_login_code(api, services, codes_only.id)
    assert login(api, codes_only.id, code).json()["member_authenticated"] is True


def test_an_org_requiring_mfa_gets_the_mfa_answer(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    make_member(services, project.project_id, org, email_address=ADA)
    body = login(api, org.id, send_login_code(api, services, org.id)).json()
    assert body["member_authenticated"] is False
    assert body["session_jwt"] == ""
    assert body["mfa_required"] is not None
    assert body["intermediate_session_token"]


def test_discovery_by_code_gives_an_ist_and_the_organizations(
    api: TestClient, services: Services, acme: Organization, ada: Member
) -> None:
    code = send_discovery_code(api, services)
    _, context = newest(services, ADA)
    assert context["organization_name"] == ""
    answer = api.post(OTP_DISCOVERY_AUTHENTICATE, json={"email_address": ADA, "code": code})
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert body["email_address"] == ADA
    assert [d["organization"]["organization_id"] for d in body["discovered_organizations"]] == [
        acme.id
    ]
    entered = api.post(
        EXCHANGE,
        json={
            "intermediate_session_token": body["intermediate_session_token"],
            "organization_id": acme.id,
        },
    )
    assert entered.json()["member_authenticated"] is True
    [factor] = entered.json()["member_session"]["authentication_factors"]
    assert factor["type"] == "email_otp"


def test_discovery_send_answers_the_same_for_known_and_unknown_addresses(
    api: TestClient, services: Services, acme: Organization, ada: Member
) -> None:
    known = api.post(OTP_DISCOVERY_SEND, json={"email_address": ADA})
    unknown = api.post(OTP_DISCOVERY_SEND, json={"email_address": "nobody@acme.example"})
    assert known.status_code == unknown.status_code == 200

    def strip(r: object) -> dict[str, object]:
        return {k: v for k, v in r.json().items() if k != "request_id"}  # type: ignore[attr-defined]

    assert strip(known) == strip(unknown) == {"status_code": 200}
    assert email_code(services, "nobody@acme.example")


def test_a_discovery_code_does_not_log_into_an_organization_nor_the_other_way_round(
    api: TestClient, services: Services, engine: Engine, acme: Organization, ada: Member
) -> None:
    discovery_code = send_discovery_code(api, services)
    with unchanged(engine, allow={"email_otps"}):
        assert_refused(login(api, acme.id, discovery_code), 401, "unable_to_auth_otp_code")
    org_code = send_login_code(api, services, acme.id)
    with unchanged(engine):
        refused = api.post(
            OTP_DISCOVERY_AUTHENTICATE, json={"email_address": ADA, "code": org_code}
        )
        assert_refused(refused, 401, "unable_to_auth_otp_code")


def test_malformed_codes_are_invalid_and_never_counted(
    api: TestClient, services: Services, engine: Engine, acme: Organization, ada: Member
) -> None:
    code = send_login_code(api, services, acme.id)
    with unchanged(engine):
        for bad in (code + "\n", " " + code, code[:5], code + "0", "１２３４５６", "12345a"):
            assert_refused(login(api, acme.id, bad), 400, "invalid_code")
            refused = api.post(OTP_DISCOVERY_AUTHENTICATE, json={"email_address": ADA, "code": bad})
            assert_refused(refused, 400, "invalid_code")
    assert login(api, acme.id, code).status_code == 200


def test_wrong_guesses_kill_the_code_at_the_sms_limit(
    api: TestClient, services: Services, acme: Organization, ada: Member
) -> None:
    code = send_login_code(api, services, acme.id)
    limit = services.settings.otp_max_attempts_per_code
    for _ in range(limit):
        assert_refused(login(api, acme.id, wrong(code)), 404, "otp_code_not_found")
    assert_refused(login(api, acme.id, code), 401, "unable_to_auth_otp_code")


def test_wrong_guesses_count_toward_the_members_lockout_as_sms_failures_do(
    api: TestClient, services: Services, engine: Engine, acme: Organization, ada: Member
) -> None:
    code = send_login_code(api, services, acme.id)
    for _ in range(2):
        assert_refused(login(api, acme.id, wrong(code)), 404, "otp_code_not_found")
    with services.sessions() as session:
        row = session.get(Member, ada.id)
        assert row is not None
        assert row.mfa_failed_attempts == 2  # the counter SMS and TOTP failures feed
    lock_member(services, ada)
    with unchanged(engine):
        assert_refused(login(api, acme.id, code), 401, "member_locked")


def test_discovery_codes_die_at_the_per_code_limit(
    api: TestClient, services: Services, acme: Organization, ada: Member
) -> None:
    code = send_discovery_code(api, services)
    for _ in range(services.settings.otp_max_attempts_per_code):
        refused = api.post(
            OTP_DISCOVERY_AUTHENTICATE, json={"email_address": ADA, "code": wrong(code)}
        )
        assert_refused(refused, 404, "otp_code_not_found")
    refused = api.post(OTP_DISCOVERY_AUTHENTICATE, json={"email_address": ADA, "code": code})
    assert_refused(refused, 401, "unable_to_auth_otp_code")


def test_codes_expire(
    api: TestClient,
    services: Services,
    engine: Engine,
    clock: FrozenClock,
    acme: Organization,
    ada: Member,
) -> None:
    code = send_discovery_code(api, services)
    clock.advance(timedelta(minutes=10, seconds=1))
    with unchanged(engine):
        refused = api.post(OTP_DISCOVERY_AUTHENTICATE, json={"email_address": ADA, "code": code})
        assert_refused(refused, 401, "unable_to_auth_otp_code")


def test_expiration_bounds(api: TestClient, acme: Organization, ada: Member) -> None:
    for minutes in (1, 16):
        refused = api.post(
            OTP_DISCOVERY_SEND,
            json={"email_address": ADA, "discovery_expiration_minutes": minutes},
        )
        assert_refused(refused, 400, "invalid_expiration")
        refused = api.post(
            OTP_LOGIN_OR_SIGNUP,
            json={
                "organization_id": acme.id,
                "email_address": ADA,
                "login_expiration_minutes": minutes,
            },
        )
        assert_refused(refused, 400, "invalid_expiration")
