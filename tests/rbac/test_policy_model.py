"""The policy model's rules, without a server: what a policy may and may not say."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from antechamber.rbac import errors
from antechamber.rbac.policy import (
    default_policy,
    granting_roles,
    holds_role,
    parse_org_roles,
    parse_policy,
)
from tests.rbac.helpers import DOCUMENTS_POLICY


def test_the_default_policy_is_stytchs() -> None:
    policy = default_policy().to_json()
    roles = {r["role_id"]: r for r in policy["roles"]}
    assert set(roles) == {"stytch_member", "stytch_admin"}
    assert roles["stytch_member"]["permissions"] == [
        {"resource_id": "stytch.self", "actions": ["*"]}
    ]
    assert {p["resource_id"] for p in roles["stytch_admin"]["permissions"]} == {
        "stytch.organization",
        "stytch.member",
        "stytch.sso",
        "stytch.scim",
    }
    resources = {r["resource_id"]: r["actions"] for r in policy["resources"]}
    assert "update.settings.mfa-policy" in resources["stytch.organization"]
    assert "update.settings.roles" in resources["stytch.member"]
    assert policy["scopes"] == []


def test_an_apps_own_resource_and_role() -> None:
    policy = parse_policy(DOCUMENTS_POLICY)
    assert granting_roles(policy.roles, ["stytch_member", "reader"], "documents", "read") == [
        "reader"
    ]
    assert granting_roles(policy.roles, ["stytch_member", "reader"], "documents", "write") == []
    assert granting_roles(policy.roles, ["stytch_admin"], "documents", "write") == ["stytch_admin"]


def _with(change: Any) -> dict[str, Any]:
    document = copy.deepcopy(DOCUMENTS_POLICY)
    change(document)
    return document


@pytest.mark.parametrize(
    ("document", "error"),
    [
        (_with(lambda d: d["roles"].pop(0)), "default roles cannot be removed"),
        (
            _with(
                lambda d: d["resources"].append({"resource_id": "stytch.billing", "actions": ["x"]})
            ),
            "may not start with 'stytch'",
        ),
        (
            _with(
                lambda d: d["resources"].append(
                    {"resource_id": "stytch.member", "actions": ["create", "fly"]}
                )
            ),
            "cannot be changed",
        ),
        (
            _with(
                lambda d: d["roles"][2]["permissions"].append(
                    {"resource_id": "x", "actions": ["y"]}
                )
            ),
            "does not define",
        ),
        (
            _with(lambda d: d["roles"][2]["permissions"][0].update(actions=["delete"])),
            "has no action 'delete'",
        ),
        (_with(lambda d: d["roles"].append(dict(d["roles"][2]))), "listed twice"),
        (_with(lambda d: d.update(scopes=[{"scope": "x"}])), "scopes"),
        (_with(lambda d: d["resources"][0].update(actions=["*"])), "invalid action"),
        ("not a policy", "JSON object"),
    ],
)
def test_invalid_policies_are_refused_with_the_rule(document: Any, error: str) -> None:
    with pytest.raises(errors.InvalidPolicy) as refused:
        parse_policy(document)
    assert error in refused.value.message


def test_org_roles_may_not_take_a_project_roles_id() -> None:
    """The SDKs evaluate project and organization roles as one list: an org role called
    stytch_member would give its permissions to every member of the organization."""
    policy = parse_policy(DOCUMENTS_POLICY)
    admin_again = {
        "role_id": "stytch_member",
        "description": "",
        "permissions": [{"resource_id": "stytch.member", "actions": ["*"]}],
    }
    with pytest.raises(errors.InvalidPolicy):
        parse_org_roles([admin_again], policy)
    with pytest.raises(errors.InvalidPolicy):
        parse_org_roles([{**admin_again, "role_id": "stytch_superuser"}], policy)
    roles = parse_org_roles([{**admin_again, "role_id": "org-admin"}], policy)
    assert roles[0].role_id == "org-admin"


def test_holding_a_role_means_holding_each_of_its_permissions() -> None:
    policy = parse_policy(DOCUMENTS_POLICY)
    by_id = {r.role_id: r for r in policy.roles}
    assert holds_role(policy.roles, ["stytch_admin"], by_id["reader"])
    assert not holds_role(policy.roles, ["reader"], by_id["stytch_admin"])
    # A wildcard is held only through a wildcard: it covers actions added later.
    assert not holds_role(policy.roles, ["reader"], by_id["stytch_member"])


def test_the_docs_worked_example_is_a_valid_policy() -> None:
    import json
    import re
    from pathlib import Path

    text = (Path(__file__).parents[2] / "docs" / "rbac.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block is not None
    policy = parse_policy(json.loads(block.group(1)))
    assert granting_roles(policy.roles, ["stytch_member"], "documents", "read") == ["stytch_member"]
    assert granting_roles(policy.roles, ["stytch_member", "editor"], "documents", "write") == [
        "editor"
    ]
