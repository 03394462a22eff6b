"""Invitations are limited per recipient, per organization and per inviter (`invite:*`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.email_auth.conftest import INVITE, invite
from tests.factories import make_member, make_org


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",  # type: ignore[arg-type]
        state_dir=tmp_path / "state",
        public_base_url="http://testserver",
        delivery_worker=False,
        limit_invites_per_recipient="2/hour",
        limit_invites_per_organization="4/hour",
        limit_invites_per_inviter="3/hour",
        limit_email_per_recipient="100/minute",
        _env_file=None,  # type: ignore[call-arg]
    )


def refused(api: TestClient, org_id: str, email: str, **fields: str) -> str:
    answer = api.post(INVITE, json={"organization_id": org_id, "email_address": email, **fields})
    assert answer.status_code == 429, answer.json()
    return str(answer.json()["error_message"])


def test_one_recipient_gets_a_limited_number_of_invitations(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    beta = make_org(services, project.project_id)
    invite(api, acme.id, "carol@contractor.example")
    invite(api, beta.id, "carol@contractor.example")
    assert "to this address" in refused(api, acme.id, "carol@contractor.example")


def test_one_organization_sends_a_limited_number_of_invitations(
    api: TestClient, acme: Organization
) -> None:
    for n in range(4):
        invite(api, acme.id, f"person{n}@contractor.example")
    assert "into this organization" in refused(api, acme.id, "person9@contractor.example")


def test_one_inviter_sends_a_limited_number_of_invitations(
    api: TestClient, services: Services, project: Credentials, acme: Organization
) -> None:
    boss = make_member(services, project.project_id, acme, email_address="boss@acme.example")
    for n in range(3):
        invite(api, acme.id, f"person{n}@contractor.example", invited_by_member_id=boss.id)
    message = refused(api, acme.id, "person9@contractor.example", invited_by_member_id=boss.id)
    assert "This inviter" in message
