"""The policy model and the authorization rule, pure (no database).

A policy is Stytch's JSON: `{resources: [{resource_id, description, actions}], roles:
[{role_id, description, permissions: [{resource_id, actions}]}], scopes: []}`. `is_authorized`
is the rule of the official SDKs (stytch/shared/rbac_local.py, Node's `authenticateJwtLocal`),
statement for statement, so the server's verdict and an SDK's local verdict are the same for
the same roles, policy and check: some role the subject holds has a permission on exactly that
resource whose actions contain the action or `*`.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from antechamber.rbac import defaults, errors

WILDCARD = "*"
MAX_ID = 128
MAX_DESCRIPTION = 1024
MAX_ITEMS = 500
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")
_ACTION = re.compile(r"^[A-Za-z0-9*][A-Za-z0-9_.:\-]*$")


@dataclass(frozen=True)
class Permission:
    resource_id: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class Role:
    role_id: str
    description: str
    permissions: tuple[Permission, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "role_id": self.role_id,
            "description": self.description,
            "permissions": [
                {"resource_id": p.resource_id, "actions": list(p.actions)} for p in self.permissions
            ],
        }


@dataclass(frozen=True)
class Resource:
    resource_id: str
    description: str
    actions: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "resource_id": self.resource_id,
            "description": self.description,
            "actions": list(self.actions),
        }


@dataclass(frozen=True)
class Policy:
    """A project's policy: every resource (Stytch's first) and every project-level role."""

    resources: tuple[Resource, ...]
    roles: tuple[Role, ...]
    scopes: tuple[dict[str, Any], ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "roles": [r.to_json() for r in self.roles],
            "resources": [r.to_json() for r in self.resources],
            "scopes": [dict(s) for s in self.scopes],
        }

    def custom_json(self) -> dict[str, Any]:
        """What is stored: the roles and the project's own resources (Stytch's are implied)."""
        return {
            "roles": [r.to_json() for r in self.roles],
            "resources": [
                r.to_json()
                for r in self.resources
                if r.resource_id not in defaults.STYTCH_RESOURCES
            ],
        }

    def role_ids(self) -> list[str]:
        return [r.role_id for r in self.roles]

    def resource(self, resource_id: str) -> Resource | None:
        return next((r for r in self.resources if r.resource_id == resource_id), None)


def stytch_resources() -> tuple[Resource, ...]:
    return tuple(
        Resource(rid, description, actions)
        for rid, (description, actions) in defaults.STYTCH_RESOURCES.items()
    )


def default_policy() -> Policy:
    return Policy(stytch_resources(), tuple(_role(r) for r in defaults.default_roles()))


def is_authorized(
    roles: Iterable[Role], subject_roles: Collection[str], resource_id: str, action: str
) -> bool:
    """The SDKs' rule (see the module docstring)."""
    return bool(granting_roles(roles, subject_roles, resource_id, action))


def granting_roles(
    roles: Iterable[Role], subject_roles: Collection[str], resource_id: str, action: str
) -> list[str]:
    """Every role of `subject_roles` (in policy order, once each) that grants the action."""
    granted: list[str] = []
    for role in roles:
        if role.role_id not in subject_roles or role.role_id in granted:
            continue
        for permission in role.permissions:
            if permission.resource_id == resource_id and (
                WILDCARD in permission.actions or action in permission.actions
            ):
                granted.append(role.role_id)
                break
    return granted


def holds_role(roles: Sequence[Role], subject_roles: Collection[str], role: Role) -> bool:
    """Whether a subject with `subject_roles` holds every permission `role` grants.

    An action `*` of `role` is held only through a `*` of the subject on that resource: a
    wildcard also covers actions the policy adds later.
    """
    return all(
        is_authorized(roles, subject_roles, p.resource_id, action)
        for p in role.permissions
        for action in p.actions
    )


# -- validation ---------------------------------------------------------------------------


def parse_policy(document: Any) -> Policy:
    """A project policy from Stytch's JSON, checked; raises `InvalidPolicy` naming the rule.

    The `stytch.*` resources are always Stytch's: a document may leave them out, or list them
    exactly as Stytch defines them. Custom resources may not start with `stytch`. Every role's
    permission names a resource of the policy and its actions (or `*`). `stytch_member` and
    `stytch_admin` must be there (their permissions may change). `scopes` (M2M) must be empty.
    """
    if not isinstance(document, Mapping):
        raise errors.InvalidPolicy("The policy must be a JSON object with roles and resources.")
    unknown = set(document) - {"roles", "resources", "scopes"}
    if unknown:
        raise errors.InvalidPolicy(f"Unknown policy keys: {', '.join(sorted(unknown))}.")
    if document.get("scopes"):
        raise errors.InvalidPolicy("M2M scopes are not supported by this server yet.")
    stytch = {r.resource_id: r for r in stytch_resources()}
    resources: list[Resource] = list(stytch.values())
    for item in _items(document.get("resources", []), "resources"):
        resource = _resource(item)
        if resource.resource_id in stytch:
            if set(resource.actions) != set(stytch[resource.resource_id].actions):
                raise errors.InvalidStytchPrefixedResource(
                    f"{resource.resource_id} is Stytch's; its actions cannot be changed."
                )
            continue
        if resource.resource_id.lower().startswith(defaults.RESERVED_PREFIX):
            raise errors.InvalidStytchPrefixedResource()
        if any(r.resource_id == resource.resource_id for r in resources):
            raise errors.InvalidPolicy(f"Resource {resource.resource_id!r} is listed twice.")
        resources.append(resource)
    by_id = {r.resource_id: r for r in resources}
    roles = _roles(document.get("roles"), by_id, reserved=())
    missing = [r for r in defaults.DEFAULT_ROLE_IDS if r not in {x.role_id for x in roles}]
    if missing:
        raise errors.InvalidPolicy(f"The default roles cannot be removed: {', '.join(missing)}.")
    return Policy(tuple(resources), tuple(roles))


def parse_org_roles(document: Any, policy: Policy) -> list[Role]:
    """An organization's custom roles, checked against the project's policy.

    Beyond the per-role rules of `parse_policy`: a custom role may not take the id of a
    project role, nor start with `stytch_`. The SDKs evaluate the project's roles and the
    organization's as one list, so an organization role named `stytch_member` would hand its
    permissions to every member of the organization.
    """
    by_id = {r.resource_id: r for r in policy.resources}
    return _roles(document, by_id, reserved=tuple(policy.role_ids()))


def _roles(value: Any, resources: Mapping[str, Resource], reserved: Sequence[str]) -> list[Role]:
    roles: list[Role] = []
    for item in _items(value, "roles"):
        role = _role(item)
        if role.role_id in reserved:
            raise errors.InvalidPolicy(
                f"Role {role.role_id!r} is a role of the project's policy; "
                "an organization's custom role needs its own id."
            )
        if reserved and role.role_id.lower().startswith(defaults.RESERVED_PREFIX):
            raise errors.InvalidPolicy(
                f"Custom role ids may not start with 'stytch': {role.role_id!r}."
            )
        if any(r.role_id == role.role_id for r in roles):
            raise errors.InvalidPolicy(f"Role {role.role_id!r} is listed twice.")
        for permission in role.permissions:
            resource = resources.get(permission.resource_id)
            if resource is None:
                raise errors.InvalidPolicy(
                    f"Role {role.role_id!r} names resource {permission.resource_id!r}, "
                    "which the policy does not define."
                )
            bad = [a for a in permission.actions if a != WILDCARD and a not in resource.actions]
            if bad:
                raise errors.InvalidPolicy(
                    f"Role {role.role_id!r}: {permission.resource_id} has no action "
                    f"{', '.join(repr(a) for a in bad)}."
                )
        roles.append(role)
    return roles


def _items(value: Any, name: str) -> list[Mapping[str, Any]]:
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise errors.InvalidPolicy(f"{name} must be a list of objects.")
    if len(value) > MAX_ITEMS:
        raise errors.InvalidPolicy(f"{name} may hold at most {MAX_ITEMS} entries.")
    return value


def _identifier(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID or not _ID.match(value):
        raise errors.InvalidPolicy(
            f"{what} must be 1 to {MAX_ID} letters, digits, '_', '.', ':' or '-': {value!r}."
        )
    return value


def _description(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > MAX_DESCRIPTION:
        raise errors.InvalidPolicy(
            f"A description is text of at most {MAX_DESCRIPTION} characters."
        )
    return value


def _actions(value: Any, what: str, *, wildcard: bool) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise errors.InvalidPolicy(f"{what}: actions must be a non-empty list of strings.")
    for action in value:
        if (
            not isinstance(action, str)
            or len(action) > MAX_ID
            or not _ACTION.match(action)
            or ("*" in action and (action != WILDCARD or not wildcard))
        ):
            raise errors.InvalidPolicy(f"{what}: invalid action {action!r}.")
    return tuple(dict.fromkeys(value))


def _resource(item: Mapping[str, Any]) -> Resource:
    rid = _identifier(item.get("resource_id"), "resource_id")
    return Resource(
        rid,
        _description(item.get("description")),
        _actions(item.get("actions"), rid, wildcard=False),
    )


def _role(item: Mapping[str, Any]) -> Role:
    role_id = _identifier(item.get("role_id"), "role_id")
    permissions = []
    for p in _items(item.get("permissions", []), f"{role_id} permissions"):
        rid = _identifier(p.get("resource_id"), "resource_id")
        actions = _actions(p.get("actions"), f"{role_id}/{rid}", wildcard=True)
        permissions.append(Permission(rid, actions))
    return Role(role_id, _description(item.get("description")), tuple(permissions))


def roles_from_json(value: Sequence[Mapping[str, Any]]) -> tuple[Role, ...]:
    """Roles already checked (read back from storage)."""
    return tuple(_role(item) for item in value)


def policy_from_json(value: Mapping[str, Any]) -> Policy:
    """A stored policy (checked when it was stored): Stytch's resources plus the project's."""
    custom = tuple(_resource(r) for r in value.get("resources", []))
    return Policy((*stytch_resources(), *custom), roles_from_json(value.get("roles", [])))
