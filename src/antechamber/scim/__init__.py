"""SCIM provisioning: an organization's directory (Okta, Entra ID, …) manages its members.

`connections` holds the per-organization connection and its bearer token (shown once, stored
as a digest, rotated with two live tokens until completed); `users` and `groups` are the
SCIM 2.0 resources behind the provider face (`scim_provider/`), mapped onto members;
`deprovision` ends a member's access in the same transaction that deactivates them.
"""
