"""Audit event types of SSO (strings in the audit trail, stable)."""

from enum import StrEnum


class SsoEvent(StrEnum):
    CONNECTION_CREATED = "sso.connection_created"
    CONNECTION_UPDATED = "sso.connection_updated"
    CONNECTION_DELETED = "sso.connection_deleted"
    CERTIFICATE_DELETED = "sso.verification_certificate_deleted"
    ENCRYPTION_KEY_DELETED = "sso.encryption_key_deleted"
    LOGIN_STARTED = "sso.login_started"
    LOGIN_REFUSED = "sso.login_refused"
    IDENTITY_VERIFIED = "sso.identity_verified"
    AUTHENTICATED = "sso.authenticated"
    MEMBER_JIT_PROVISIONED = "sso.member_jit_provisioned"
    PUBLIC_TOKEN_CREATED = "project.public_token_created"  # noqa: S105 (an event name)
