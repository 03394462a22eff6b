"""Organizations through the official Python SDK (stytch 15.3.0) against a live server."""

from __future__ import annotations

from typing import Any

import pytest
from stytch.core.response_base import StytchError


def error_type(exc_info: pytest.ExceptionInfo[StytchError]) -> str | None:
    return exc_info.value.details.error_type


def test_create_get_update_delete(sdk: Any) -> None:
    created = sdk.organizations.create(
        organization_name="Acme Co",
        organization_slug="acme-co",
        email_allowed_domains=["acme.example"],
        email_jit_provisioning="RESTRICTED",
        mfa_policy="REQUIRED_FOR_ALL",
        trusted_metadata={"tier": "gold"},
    )
    org = created.organization
    assert created.status_code == 200
    assert org.organization_id.startswith("organization-test-")
    assert org.organization_logo_url == ""
    assert org.email_allowed_domains == ["acme.example"]
    assert org.mfa_policy == "REQUIRED_FOR_ALL"

    fetched = sdk.organizations.get(organization_id=org.organization_id).organization
    assert fetched.organization_slug == "acme-co"
    by_slug = sdk.organizations.get(organization_id="acme-co").organization
    assert by_slug.organization_id == org.organization_id

    updated = sdk.organizations.update(
        organization_id=org.organization_id,
        organization_name="Acme Corporation",
        mfa_policy="OPTIONAL",
        trusted_metadata={"tier": None, "region": "eu"},
    ).organization
    assert updated.organization_name == "Acme Corporation"
    assert updated.mfa_policy == "OPTIONAL"
    assert updated.trusted_metadata == {"region": "eu"}
    assert updated.email_allowed_domains == ["acme.example"]

    deleted = sdk.organizations.delete(organization_id=org.organization_id)
    assert deleted.organization_id == org.organization_id
    with pytest.raises(StytchError) as exc:
        sdk.organizations.get(organization_id=org.organization_id)
    assert error_type(exc) == "organization_not_found"
    assert exc.value.details.status_code == 404


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"organization_name": ""}, "invalid_organization_name"),
        ({"organization_name": "x" * 129}, "invalid_organization_name"),
        ({"organization_name": "A", "organization_slug": "a"}, "invalid_organization_slug"),
        ({"organization_name": "A", "organization_slug": "a b"}, "invalid_organization_slug"),
        ({"organization_name": "A", "organization_slug": "--"}, "invalid_organization_slug"),
        ({"organization_name": "A", "mfa_policy": "SOMETIMES"}, "invalid_organization_mfa_policy"),
        (
            {"organization_name": "A", "email_allowed_domains": ["gmail.com"]},
            "organization_settings_domain_too_common",
        ),
        (
            {"organization_name": "A", "email_allowed_domains": ["not a domain"]},
            "organization_settings_invalid_domain",
        ),
        (
            {"organization_name": "A", "email_allowed_domains": ["a.example", "A.example."]},
            "organization_settings_duplicate_domain",
        ),
        (
            {"organization_name": "A", "email_jit_provisioning": "RESTRICTED"},
            "invalid_restricted_email_setting",
        ),
        (
            {"organization_name": "A", "auth_methods": "RESTRICTED"},
            "allowed_auth_methods_required_for_restricted",
        ),
        (
            {"organization_name": "A", "mfa_methods": "RESTRICTED"},
            "allowed_mfa_methods_required_for_restricted",
        ),
        (
            {
                "organization_name": "A",
                "mfa_methods": "RESTRICTED",
                "allowed_mfa_methods": ["carrier_pigeon"],
            },
            "invalid_organization_setting",
        ),
    ],
)
def test_create_refuses_invalid_settings(sdk: Any, fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(StytchError) as exc:
        sdk.organizations.create(**fields)
    assert error_type(exc) == expected
    assert exc.value.details.status_code == 400
    assert sdk.organizations.search().results_metadata.total == 0


def test_slug_is_unique_per_project(sdk: Any) -> None:
    sdk.organizations.create(organization_name="One", organization_slug="same")
    with pytest.raises(StytchError) as exc:
        sdk.organizations.create(organization_name="Two", organization_slug="SAME")
    assert error_type(exc) == "organization_slug_already_used"
    assert exc.value.details.status_code == 409


def test_update_with_webmail_domain_changes_nothing(sdk: Any) -> None:
    org = sdk.organizations.create(organization_name="Acme").organization
    # The tutorial's call: it catches exactly this error_type and carries on.
    with pytest.raises(StytchError) as exc:
        sdk.organizations.update(
            organization_id=org.organization_id,
            email_jit_provisioning="RESTRICTED",
            sso_jit_provisioning="ALL_ALLOWED",
            email_allowed_domains=["gmail.com"],
        )
    assert error_type(exc) == "organization_settings_domain_too_common"
    again = sdk.organizations.get(organization_id=org.organization_id).organization
    assert again.email_jit_provisioning == "NOT_ALLOWED"
    assert again.email_allowed_domains == []


def test_slug_derived_from_name_when_absent(sdk: Any) -> None:
    first = sdk.organizations.create(organization_name="Acme Widgets!").organization
    second = sdk.organizations.create(organization_name="Acme Widgets").organization
    assert first.organization_slug == "acme-widgets"
    assert second.organization_slug.startswith("acme-widgets-")


def test_search_filters_and_pages(sdk: Any) -> None:
    for i in range(5):
        sdk.organizations.create(
            organization_name=f"Team {i}",
            organization_slug=f"team-{i}",
            mfa_policy="REQUIRED_FOR_ALL" if i % 2 else "OPTIONAL",
        )
    page = sdk.organizations.search(limit=2)
    assert page.results_metadata.total == 5
    assert len(page.organizations) == 2
    seen = [o.organization_slug for o in page.organizations]
    while page.results_metadata.next_cursor:
        page = sdk.organizations.search(limit=2, cursor=page.results_metadata.next_cursor)
        seen += [o.organization_slug for o in page.organizations]
    assert sorted(seen) == [f"team-{i}" for i in range(5)]

    required = sdk.organizations.search(
        query={
            "operator": "AND",
            "operands": [{"filter_name": "mfa_policies", "filter_value": ["REQUIRED_FOR_ALL"]}],
        }
    )
    assert sorted(o.organization_slug for o in required.organizations) == ["team-1", "team-3"]
    fuzzy = sdk.organizations.search(
        query={
            "operator": "OR",
            "operands": [
                {"filter_name": "organization_name_fuzzy", "filter_value": "eam 4"},
                {"filter_name": "organization_slugs", "filter_value": ["team-0"]},
            ],
        }
    )
    assert sorted(o.organization_slug for o in fuzzy.organizations) == ["team-0", "team-4"]

    with pytest.raises(StytchError) as exc:
        sdk.organizations.search(
            query={
                "operator": "AND",
                "operands": [{"filter_name": "shoe_size", "filter_value": ["9"]}],
            }
        )
    assert error_type(exc) == "organization_search_filter_name_not_recognized"
    with pytest.raises(StytchError) as exc:
        sdk.organizations.search(cursor="garbage!")
    assert error_type(exc) == "invalid_search_cursor"
