"""Audit event types. They are an API (operators filter on them): add, never rename."""

from enum import StrEnum


class EventType(StrEnum):
    CONSOLE_SESSION_REVOKED = "console.session_revoked"
    CONSOLE_SIGNED_IN = "console.signed_in"
    CONSOLE_SIGNED_OUT = "console.signed_out"
    MEMBER_CREATED = "member.created"
    MEMBER_DELETED = "member.deleted"
    MEMBER_MFA_PHONE_RESET = "member.mfa_phone_reset"
    MEMBER_UNLOCKED = "member.unlocked"
    MEMBER_UPDATED = "member.updated"
    MFA_SMS_FAILED = "mfa.sms_failed"
    ORGANIZATION_CREATED = "organization.created"
    ORGANIZATION_DELETED = "organization.deleted"
    ORGANIZATION_UPDATED = "organization.updated"
    PROJECT_CREATED = "project.created"
    PROJECT_SECRET_CREATED = "project.secret_created"  # noqa: S105 (an event name)
    PROJECT_SECRET_REVOKED = "project.secret_revoked"  # noqa: S105
