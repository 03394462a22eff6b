"""Role-based access control as Stytch's B2B RBAC: the project's policy (resources, actions,
roles), per-organization custom roles, the roles of members, and authorization checks whose
verdict equals the SDKs' local one (docs/rbac.md)."""
