"""Members through the official Python SDK against a live server."""

from __future__ import annotations

from typing import Any

import pytest
from stytch.core.response_base import StytchError


@pytest.fixture
def org(sdk: Any) -> Any:
    return sdk.organizations.create(organization_name="Acme", organization_slug="acme").organization


def err(exc_info: pytest.ExceptionInfo[StytchError]) -> tuple[int, str | None]:
    return exc_info.value.details.status_code, exc_info.value.details.error_type


def test_member_lifecycle(sdk: Any, org: Any) -> None:
    oid = org.organization_id
    created = sdk.organizations.members.create(
        organization_id=oid,
        email_address="Ada@ACME.example",
        name="Ada",
        trusted_metadata={"admin": True},
    )
    member = created.member
    assert created.member_id.startswith("member-test-")
    assert member.email_address == "ada@acme.example"
    assert member.status == "active"
    assert member.is_admin is False
    assert [r.role_id for r in member.roles] == ["stytch_member"]
    assert member.mfa_phone_number == ""

    by_email = sdk.organizations.members.get(organization_id=oid, email_address="ADA@acme.example")
    assert by_email.member_id == created.member_id
    by_id = sdk.organizations.members.get(organization_id=oid, member_id=created.member_id)
    assert by_id.member.name == "Ada"

    updated = sdk.organizations.members.update(
        organization_id=oid,
        member_id=created.member_id,
        name="Ada L.",
        roles=["stytch_admin"],
        mfa_phone_number="+12025550123",
        mfa_enrolled=True,
        untrusted_metadata={"theme": "dark"},
    ).member
    assert updated.name == "Ada L."
    assert updated.is_admin is True
    assert {r.role_id for r in updated.roles} == {"stytch_member", "stytch_admin"}
    assert updated.mfa_phone_number == "+12025550123"
    assert updated.mfa_phone_number_verified is False
    assert updated.mfa_enrolled is True
    assert updated.untrusted_metadata == {"theme": "dark"}

    deleted = sdk.organizations.members.delete(organization_id=oid, member_id=created.member_id)
    assert deleted.member_id == created.member_id
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.get(organization_id=oid, member_id=created.member_id)
    assert err(exc) == (404, "member_not_found")


def test_duplicate_email_is_refused_case_insensitively(sdk: Any, org: Any) -> None:
    sdk.organizations.members.create(
        organization_id=org.organization_id, email_address="ada@acme.example"
    )
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.create(
            organization_id=org.organization_id, email_address="ADA@Acme.Example"
        )
    assert err(exc) == (409, "duplicate_member_email")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email_address": "not-an-email"}, "invalid_email"),
        (
            {"email_address": "a@b.example", "mfa_phone_number": "2025550123"},
            "invalid_phone_number",
        ),
        ({"email_address": "a@b.example", "mfa_phone_number": "+1202555"}, "invalid_phone_number"),
        ({"email_address": "a@b.example", "roles": ["emperor"]}, "invalid_rbac_role_id"),
        (
            {"email_address": "a@b.example", "trusted_metadata": {"x": "y" * 5000}},
            "metadata_too_large",
        ),
    ],
)
def test_create_refuses_invalid_fields(
    sdk: Any, org: Any, fields: dict[str, Any], expected: str
) -> None:
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.create(organization_id=org.organization_id, **fields)
    assert err(exc) == (400, expected)
    found = sdk.organizations.members.search(organization_ids=[org.organization_id])
    assert found.results_metadata.total == 0


def test_opting_out_contradicting_policy_is_refused(sdk: Any) -> None:
    org = sdk.organizations.create(
        organization_name="Strict", mfa_policy="REQUIRED_FOR_ALL"
    ).organization
    m = sdk.organizations.members.create(
        organization_id=org.organization_id, email_address="bo@strict.example"
    )
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.update(
            organization_id=org.organization_id, member_id=m.member_id, mfa_enrolled=False
        )
    assert err(exc) == (400, "mfa_enrollment_required_by_policy")
    # Opting in is always fine.
    ok = sdk.organizations.members.update(
        organization_id=org.organization_id, member_id=m.member_id, mfa_enrolled=True
    )
    assert ok.member.mfa_enrolled is True


def test_default_mfa_method_needs_the_factor(sdk: Any, org: Any) -> None:
    m = sdk.organizations.members.create(
        organization_id=org.organization_id, email_address="cy@acme.example"
    )
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.update(
            organization_id=org.organization_id, member_id=m.member_id, default_mfa_method="sms_otp"
        )
    assert err(exc) == (400, "default_mfa_member_missing_factor")
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.update(
            organization_id=org.organization_id, member_id=m.member_id, default_mfa_method="pager"
        )
    assert err(exc) == (400, "invalid_mfa_default_method")


def test_member_get_needs_exactly_one_key(sdk: Any, org: Any) -> None:
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.get(organization_id=org.organization_id)
    assert err(exc) == (400, "invalid_member_get_fields")


def test_search_members(sdk: Any, org: Any) -> None:
    oid = org.organization_id
    for name in ("ada", "bob", "cyd"):
        sdk.organizations.members.create(organization_id=oid, email_address=f"{name}@acme.example")
    sdk.organizations.members.create(
        organization_id=oid, email_address="dan@acme.example", roles=["stytch_admin"]
    )
    everyone = sdk.organizations.members.search(organization_ids=[oid], limit=3)
    assert everyone.results_metadata.total == 4
    assert len(everyone.members) == 3
    assert oid in everyone.organizations
    admins = sdk.organizations.members.search(
        organization_ids=[oid],
        query={
            "operator": "AND",
            "operands": [{"filter_name": "member_roles", "filter_value": ["stytch_admin"]}],
        },
    )
    assert [m.email_address for m in admins.members] == ["dan@acme.example"]
    fuzzy = sdk.organizations.members.search(
        organization_ids=[oid],
        query={
            "operator": "AND",
            "operands": [{"filter_name": "member_email_fuzzy", "filter_value": "bob@"}],
        },
    )
    assert [m.email_address for m in fuzzy.members] == ["bob@acme.example"]
    with pytest.raises(StytchError) as exc:
        sdk.organizations.members.search(organization_ids=[])
    assert err(exc) == (400, "member_search_organization_ids_empty")
