"""One identity per person, organization and phone: every spelling either maps to the one
canonical form or is refused, never to a second identity.

Research §1.7 (Email cheat sheet: lowercase and punycode the domain, no provider rewriting,
homoglyphs), §2.10 (GitHub's dotless ı, mozilla/fxa#4643 KELVIN SIGN, gumroad#6522 invisible
characters; cizgile#27 mixed-script slugs, sentry#41800 reserved slugs) and §2.5
(vellum#14132: a phone limit keyed on the raw format while storage used E.164).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from antechamber.delivery.models import OutboxMessage
from antechamber.errors import TooManyRequests
from antechamber.services import Services
from tests.conftest import Credentials
from tests.delivery.conftest import sms_code
from tests.factories import allow_redirect, magic_token, make_member, make_org
from tests.flows import AUTHENTICATE, CREATE, SEND, ist_for
from tests.snapshots import assert_refused, unchanged

ORGS = "/v1/b2b/organizations"


@pytest.fixture
def org(services: Services, project: Credentials) -> Any:
    org = make_org(services, project.project_id, organization_slug="acme")
    make_member(services, project.project_id, org, email_address="ada@kcme.example")
    make_member(services, project.project_id, org, email_address="bob@xn--bcher-kva.example")
    return org


# --- Emails ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling",
    [
        "ADA@KCME.EXAMPLE",
        "  ada@kcme.example  ",
        "ada@\u212acme.example",  # KELVIN SIGN in the domain: IDNA maps it to k
        "ada@\uff4b\uff43\uff4d\uff45.example",  # fullwidth letters
        "ada@kcme\u3002example",  # ideographic full stop as the dot
        "bob@b\u00fccher.example",  # the IDN domain and its punycode are one domain
        "BOB@XN--BCHER-KVA.EXAMPLE",
    ],
)
def test_spellings_of_a_members_email_are_that_member(
    api: TestClient, engine: Engine, org: Any, spelling: str
) -> None:
    with unchanged(engine):
        response = api.post(f"{ORGS}/{org.id}/members", json={"email_address": spelling})
        assert_refused(response, 409, "duplicate_member_email")
    found = api.get(f"{ORGS}/{org.id}/member", params={"email_address": spelling})
    assert found.status_code == 200
    assert found.json()["member"]["email_address"] in (
        "ada@kcme.example",
        "bob@xn--bcher-kva.example",
    )


@pytest.mark.parametrize(
    "spelling",
    [
        "\u212ada@kcme.example",  # KELVIN SIGN in the local part: lowercases to k elsewhere
        "ad\u0131@kcme.example",  # dotless ı: uppercases to I
        "\u0130da@kcme.example",  # dotted İ: lowercases to i + combining dot
        "a\u200bda@kcme.example",  # zero-width space
        "ada@kcme.example\u200b",
        "ada@kcme.example.",  # a trailing dot is another DNS name to some mail systems
        "ada@[127.0.0.1]",
        '"ada"@kcme.example',
        "ada@localhost",
        "ada@kcme..example",
        "ada\r\nbcc@kcme.example",
    ],
)
def test_look_alike_and_odd_emails_are_refused(
    api: TestClient, engine: Engine, org: Any, spelling: str
) -> None:
    with unchanged(engine):
        for response in (
            api.post(f"{ORGS}/{org.id}/members", json={"email_address": spelling}),
            api.post(SEND, json={"email_address": spelling}),
        ):
            assert_refused(response, 400, "invalid_email")


@pytest.mark.parametrize(
    ("spelling", "stored"),
    [
        ("ada+work@kcme.example", "ada+work@kcme.example"),  # plus addresses are kept distinct
        ("a.da@kcme.example", "a.da@kcme.example"),  # no provider-specific dot removal
        ("ada@\u043acme.example", "ada@xn--cme-bed.example"),  # Cyrillic к: another domain
    ],
)
def test_other_addresses_are_other_members(
    api: TestClient, org: Any, spelling: str, stored: str
) -> None:
    response = api.post(f"{ORGS}/{org.id}/members", json={"email_address": spelling})
    assert response.status_code == 200, response.json()
    assert response.json()["member"]["email_address"] == stored


def test_mail_goes_to_the_canonical_address_and_spellings_share_its_limit(
    api: TestClient, services: Services, project: Credentials, engine: Engine
) -> None:
    """The Kelvin-sign spelling must not reach another mailbox, nor get its own allowance."""
    allow_redirect(services, project.project_id)
    for spelling in ("ada@\u212acme.example", "ADA@kcme.example", "ada@\uff4bcme.example"):
        assert api.post(SEND, json={"email_address": spelling}).status_code == 200
    with services.sessions() as s:
        recipients = set(s.scalars(select(OutboxMessage.recipient)))
    assert recipients == {"ada@kcme.example"}
    with unchanged(engine, allow={"audit_events"}):  # the refusal itself is audited
        response = api.post(SEND, json={"email_address": "Ada@KCME.example"})
        assert_refused(response, 429, "too_many_requests")


def test_discovery_finds_the_member_whatever_the_spelling(
    api: TestClient, services: Services, project: Credentials, org: Any
) -> None:
    allow_redirect(services, project.project_id)
    for spelling, canonical in [
        ("ADA@\u212aCME.EXAMPLE", "ada@kcme.example"),
        ("bob@B\u00dcCHER.example", "bob@xn--bcher-kva.example"),
    ]:
        assert api.post(SEND, json={"email_address": spelling}).status_code == 200
        token = magic_token(services, canonical)
        found = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token}).json()
        assert found["email_address"] == canonical
        orgs = [d["organization"]["organization_id"] for d in found["discovered_organizations"]]
        assert orgs == [org.id]


# --- Domains --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("domains", "status", "error_type"),
    [
        (["acme.example", "ACME.example."], 400, "organization_settings_duplicate_domain"),
        (["b\u00fccher.example", "xn--bcher-kva.example"], 400,
         "organization_settings_duplicate_domain"),
        (["acme.example", "\uff41cme.example"], 400, "organization_settings_duplicate_domain"),
        (["GMAIL.COM."], 400, "organization_settings_domain_too_common"),
        (["\uff47mail.com"], 400, "organization_settings_domain_too_common"),
        (["gmail\u3002com"], 400, "organization_settings_domain_too_common"),
        (["gmail.com\u200b"], 400, "organization_settings_domain_too_common"),
        (["*.acme.example"], 400, "organization_settings_invalid_domain"),
        (["acme.example:443"], 400, "organization_settings_invalid_domain"),
        (["acme"], 400, "organization_settings_invalid_domain"),
        (["127.0.0.1"], 400, "organization_settings_invalid_domain"),
    ],
)  # fmt: skip
def test_allowed_domains_have_one_canonical_form(
    api: TestClient, engine: Engine, org: Any, domains: list[str], status: int, error_type: str
) -> None:
    with unchanged(engine):
        response = api.put(f"{ORGS}/{org.id}", json={"email_allowed_domains": domains})
        assert_refused(response, status, error_type)


def test_allowed_domains_are_stored_canonical(api: TestClient, org: Any) -> None:
    response = api.put(
        f"{ORGS}/{org.id}", json={"email_allowed_domains": ["Acme.Example.", "B\u00fccher.example"]}
    )
    assert response.json()["organization"]["email_allowed_domains"] == [
        "acme.example",
        "xn--bcher-kva.example",
    ]


# --- Slugs and other references to an organization ------------------------------------------


@pytest.mark.parametrize(
    "slug",
    [
        "p\u0430ypal",  # Cyrillic а: mixed script
        "\uff41cme",  # fullwidth
        "acme\u200b",
        "\u0130stanbul",
        "null",  # what SDKs send for "no value": never a name
        "UNDEFINED",
        "--",
        "a",
        "a/b",
        "../acme",
    ],
)
def test_odd_slugs_are_refused(api: TestClient, engine: Engine, org: Any, slug: str) -> None:
    with unchanged(engine):
        for response in (
            api.post(ORGS, json={"organization_name": "X", "organization_slug": slug}),
            api.put(f"{ORGS}/{org.id}", json={"organization_slug": slug}),
        ):
            assert_refused(response, 400, "invalid_organization_slug")


def test_slugs_compare_case_insensitively(api: TestClient, engine: Engine, org: Any) -> None:
    with unchanged(engine):
        response = api.post(ORGS, json={"organization_name": "X", "organization_slug": "ACME"})
        assert_refused(response, 409, "organization_slug_already_used")


def test_an_organization_name_never_becomes_a_reserved_slug(api: TestClient) -> None:
    response = api.post(ORGS, json={"organization_name": "Null"})
    assert response.json()["organization"]["organization_slug"] == "org-null"


def test_one_reference_names_one_organization(
    api: TestClient, engine: Engine, project: Credentials, services: Services
) -> None:
    """Slugs, external ids and ids are all accepted where an organization is named, so none
    may equal another organization's: otherwise `GET /organizations/acme-corp` (the victim's
    external id) could answer with an attacker's organization whose slug is `acme-corp`."""
    victim = make_org(
        services,
        project.project_id,
        organization_slug="victim",
        organization_external_id="Acme-Corp",
    )
    with unchanged(engine):
        for body, error_type in [
            ({"organization_slug": "acme-corp"}, "organization_slug_already_used"),
            ({"organization_slug": victim.id}, "organization_slug_already_used"),
            ({"organization_external_id": "victim"}, "organization_external_id_already_used"),
            ({"organization_external_id": "VICTIM"}, "organization_external_id_already_used"),
            ({"organization_external_id": victim.id}, "organization_external_id_already_used"),
        ]:
            response = api.post(ORGS, json={"organization_name": "Attacker", **body})
            assert_refused(response, 409, error_type)
    for ref in ("Acme-Corp", "victim", victim.id):
        assert api.get(f"{ORGS}/{ref}").json()["organization"]["organization_id"] == victim.id
    # An organization named after the victim's external id gets a slug of its own.
    named = api.post(ORGS, json={"organization_name": "Acme Corp"}).json()["organization"]
    assert named["organization_slug"].startswith("acme-corp-")


def test_an_end_user_cannot_take_another_organizations_reference_at_discovery(
    api: TestClient, engine: Engine, project: Credentials, services: Services
) -> None:
    allow_redirect(services, project.project_id)
    make_org(
        services, project.project_id, organization_slug="victim", organization_external_id="vip"
    )
    ist = ist_for(api, services, "eve@evil.example")
    with unchanged(engine):
        for fields, error_type in [
            ({"organization_slug": "vip"}, "organization_slug_already_used"),
            ({"organization_external_id": "victim"}, "organization_external_id_already_used"),
        ]:
            response = api.post(
                CREATE,
                json={"intermediate_session_token": ist, "organization_name": "Evil", **fields},
            )
            assert_refused(response, 409, error_type)


# --- Phone numbers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["+12025550123", "+1 202 555 0123", "+1-202-555-0123", "+1 202-555-0123 "]
)
def test_accepted_phone_spellings_are_one_number(
    api: TestClient, services: Services, project: Credentials, engine: Engine, org: Any,
    spelling: str,
) -> None:  # fmt: skip
    first = make_member(
        services,
        project.project_id,
        org,
        email_address="p1@kcme.example",
        mfa_phone_number=spelling,
    )
    assert first.mfa_phone_number == "+12025550123"
    with unchanged(engine):
        response = api.post(
            f"{ORGS}/{org.id}/members",
            json={"email_address": "p2@kcme.example", "mfa_phone_number": "+12025550123"},
        )
        assert_refused(response, 409, "duplicate_member_phone_number")


def test_respelling_a_verified_number_is_not_a_new_authenticator(
    api: TestClient, services: Services, project: Credentials, org: Any
) -> None:
    member = make_member(
        services,
        project.project_id,
        org,
        email_address="p1@kcme.example",
        mfa_phone_number="+12025550123",
    )
    before = api.get(f"{ORGS}/{org.id}/member", params={"member_id": member.id}).json()["member"]
    after = api.put(
        f"{ORGS}/{org.id}/members/{member.id}", json={"mfa_phone_number": "+1 202-555-0123"}
    ).json()["member"]
    assert after["mfa_phone_number"] == before["mfa_phone_number"] == "+12025550123"
    assert after["mfa_phone_number_verified"] == before["mfa_phone_number_verified"]


@pytest.mark.parametrize(
    "spelling",
    [
        "12025550123",  # no +: which country?
        "(202) 555-0123",  # national format
        "+1 (202) 555-0123",
        "+1.202.555.0123",
        "+330612345678",  # national trunk 0 kept inside E.164
        "+33 06 12 34 56 78",
        "+0012025550123",  # international dialling prefix
        "tel:+12025550123",
        "+\uff11\uff12\uff10\uff12\uff15\uff15\uff15\uff10\uff11\uff12\uff13",  # fullwidth
        "+12025550123\u200b",
        "+1 202\u00a0555 0123",
        "+12025550123;ext=1",
        "+12025550123 ext. 1",
        "+1202555012",  # too short
    ],
)
def test_other_phone_spellings_are_refused(
    api: TestClient, engine: Engine, org: Any, spelling: str
) -> None:
    with unchanged(engine):
        response = api.post(
            f"{ORGS}/{org.id}/members",
            json={"email_address": "p@kcme.example", "mfa_phone_number": spelling},
        )
        assert_refused(response, 400, "invalid_phone_number")


def test_sms_limits_count_the_number_not_its_spelling(
    services: Services, project: Credentials
) -> None:
    """A caller handing the outbox a dashed number must not get a fresh allowance for it."""
    sms_code(services, project.project_id, "+1 202-555-0123")
    for spelling in ("+12025550123", "+1 202 555 0123"):
        with pytest.raises(TooManyRequests):
            sms_code(services, project.project_id, spelling)  # 1 per 30 seconds per number
    with services.sessions() as s:
        assert list(s.scalars(select(OutboxMessage.recipient))) == ["+12025550123"]
