"""Invitation and organization links refused, each leaving the database as it was.

A link is a bearer credential: redeemed once (also under concurrency, see test_races.py),
dead once a newer one was sent, once its member was deleted (the invitation revoked) or once
it expired; never usable for another organization's login; never a discovery token (nor the
other way round). `email_invites` decides who may be invited at all.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.magic_links.service import pkce_challenge
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.email_auth.conftest import INVITE, invited_token, link_token, login_token, redeem
from tests.factories import magic_token, make_member, make_org, message_ids
from tests.flows import AUTHENTICATE as DISCOVERY_AUTHENTICATE
from tests.flows import EXCHANGE, SEND, ist_for
from tests.snapshots import assert_refused, unchanged


def test_an_invite_link_redeemed_twice_is_refused(
    api: TestClient, services: Services, engine: Engine, acme: Organization
) -> None:
    _, token = invited_token(api, services, acme.id, "carol@contractor.example")
    assert redeem(api, token).status_code == 200
    with unchanged(engine):
        assert_refused(redeem(api, token), 401, "unable_to_auth_magic_link")


def test_the_previous_invite_link_is_refused_after_a_re_invite(
    api: TestClient, services: Services, engine: Engine, acme: Organization
) -> None:
    _, old = invited_token(api, services, acme.id, "carol@contractor.example")
    invited_token(api, services, acme.id, "carol@contractor.example")
    with unchanged(engine):
        body = assert_refused(redeem(api, old), 401, "unable_to_auth_magic_link")
    assert "newer link" in body["error_message"]


def test_deleting_the_invited_member_revokes_the_invite(
    api: TestClient, services: Services, engine: Engine, acme: Organization
) -> None:
    invited, token = invited_token(api, services, acme.id, "carol@contractor.example")
    deleted = api.delete(f"/v1/b2b/organizations/{acme.id}/members/{invited['member_id']}")
    assert deleted.status_code == 200
    with unchanged(engine):
        assert_refused(redeem(api, token), 401, "unable_to_auth_magic_link")
    # Invited again, the person is a new member: the old link still leads nowhere.
    invited_token(api, services, acme.id, "carol@contractor.example")
    with unchanged(engine):
        assert_refused(redeem(api, token), 401, "unable_to_auth_magic_link")


def test_an_expired_invite_link_is_refused(
    api: TestClient, services: Services, engine: Engine, clock: FrozenClock, acme: Organization
) -> None:
    _, token = invited_token(
        api, services, acme.id, "carol@contractor.example", invite_expiration_minutes=5
    )
    clock.advance(timedelta(minutes=5, seconds=1))
    with unchanged(engine):
        assert_refused(redeem(api, token), 401, "unable_to_auth_magic_link")


def test_an_invite_link_cannot_finish_a_login_into_another_organization(
    api: TestClient, services: Services, engine: Engine, project: Credentials
) -> None:
    acme = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    beta = make_org(services, project.project_id)
    make_member(services, project.project_id, acme, email_address="carol@contractor.example")
    # A login into Acme waits for MFA with an IST bound to Acme …
    ist = ist_for(api, services, "carol@contractor.example")
    pending = api.post(
        EXCHANGE, json={"intermediate_session_token": ist, "organization_id": acme.id}
    )
    assert pending.json()["mfa_required"] is not None
    # … and an invitation into Beta cannot be spent on it.
    _, token = invited_token(api, services, beta.id, "carol@contractor.example")
    with unchanged(engine):
        assert_refused(
            redeem(api, token, intermediate_session_token=ist),
            400,
            "invalid_intermediate_session_token_for_organization",
        )
    assert redeem(api, token).status_code == 200  # the refusal did not burn it


def test_a_discovery_token_is_not_an_organization_link_nor_the_other_way_round(
    api: TestClient, services: Services, engine: Engine, acme: Organization, ada: object
) -> None:
    seen = message_ids(services, "ada@acme.example")
    api.post(SEND, json={"email_address": "ada@acme.example"})
    discovery = magic_token(services, "ada@acme.example", seen=seen)
    organization = login_token(api, services, acme.id, "ada@acme.example")
    with unchanged(engine):
        assert_refused(redeem(api, discovery), 404, "magic_link_not_found")
        assert_refused(
            api.post(DISCOVERY_AUTHENTICATE, json={"discovery_magic_links_token": organization}),
            404,
            "magic_link_not_found",
        )


def test_email_invites_not_allowed_refuses_every_invitation(
    api: TestClient, services: Services, engine: Engine, project: Credentials
) -> None:
    org = make_org(services, project.project_id, email_invites="NOT_ALLOWED")
    with unchanged(engine):
        refused = api.post(
            INVITE, json={"organization_id": org.id, "email_address": "carol@acme.example"}
        )
        assert_refused(refused, 400, "invalid_email_for_invites")


def test_email_invites_restricted_allows_only_the_allowed_domains(
    api: TestClient, services: Services, engine: Engine, project: Credentials
) -> None:
    org = make_org(
        services,
        project.project_id,
        email_invites="RESTRICTED",
        email_allowed_domains=["acme.example"],
    )
    with unchanged(engine):
        for email in ("carol@contractor.example", "carol@sub.acme.example", "x@acme.example.evil"):
            refused = api.post(INVITE, json={"organization_id": org.id, "email_address": email})
            assert_refused(refused, 400, "invalid_email_for_invites")
    allowed = api.post(INVITE, json={"organization_id": org.id, "email_address": "c@acme.example"})
    assert allowed.status_code == 200


def test_an_inviter_from_another_organization_is_refused(
    api: TestClient, services: Services, engine: Engine, project: Credentials, acme: Organization
) -> None:
    beta = make_org(services, project.project_id)
    stranger = make_member(services, project.project_id, beta, email_address="s@beta.example")
    with unchanged(engine):
        refused = api.post(
            INVITE,
            json={
                "organization_id": acme.id,
                "email_address": "carol@contractor.example",
                "invited_by_member_id": stranger.id,
            },
        )
        assert_refused(refused, 404, "member_not_found")


def test_a_newer_discovery_link_ends_the_older_one(
    api: TestClient, services: Services, engine: Engine
) -> None:
    """Issue 22: sending a new discovery link ended nothing; the older one redeemed for its
    whole hour."""
    tokens = []
    for _ in range(2):
        seen = message_ids(services, "ada@acme.example")
        assert api.post(SEND, json={"email_address": "ada@acme.example"}).status_code == 200
        tokens.append(magic_token(services, "ada@acme.example", seen=seen))
    older, newer = tokens
    with unchanged(engine):
        body = assert_refused(
            api.post(DISCOVERY_AUTHENTICATE, json={"discovery_magic_links_token": older}),
            401,
            "unable_to_auth_magic_link",
        )
    assert "newer link" in body["error_message"]
    found = api.post(DISCOVERY_AUTHENTICATE, json={"discovery_magic_links_token": newer})
    assert found.status_code == 200


def test_a_login_link_sent_with_pkce_needs_its_verifier(
    api: TestClient, services: Services, engine: Engine, acme: Organization, ada: object
) -> None:
    verifier = "v" * 43
    seen = message_ids(services, "ada@acme.example")
    sent = api.post(
        "/v1/b2b/magic_links/email/login_or_signup",
        json={
            "organization_id": acme.id,
            "email_address": "ada@acme.example",
            "pkce_code_challenge": pkce_challenge(verifier),
        },
    )
    assert sent.status_code == 200, sent.json()
    token = link_token(services, "ada@acme.example", seen)
    with unchanged(engine):
        assert_refused(redeem(api, token), 400, "pkce_expected_code_verifier")
        assert_refused(redeem(api, token, pkce_code_verifier="w" * 43), 400, "pkce_mismatch")
    assert redeem(api, token, pkce_code_verifier=verifier).status_code == 200
