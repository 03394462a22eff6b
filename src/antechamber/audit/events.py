"""Audit event types. They are an API (operators filter on them): add, never rename."""

from enum import StrEnum


class EventType(StrEnum):
    CONSOLE_SESSION_REVOKED = "console.session_revoked"
    CONSOLE_SIGNED_IN = "console.signed_in"
    CONSOLE_SIGNED_OUT = "console.signed_out"
    DELIVERY_REFUSED = "delivery.refused"
    DISCOVERY_ORGANIZATION_CREATED = "discovery.organization_created"
    INTERMEDIATE_SESSION_EXCHANGED = "intermediate_session.exchanged"
    INTERMEDIATE_SESSION_ISSUED = "intermediate_session.issued"
    MAGIC_LINK_AUTHENTICATED = "magic_link.authenticated"
    MAGIC_LINK_SENT = "magic_link.sent"
    MEMBER_CREATED = "member.created"
    MEMBER_DELETED = "member.deleted"
    MEMBER_JIT_PROVISIONED = "member.jit_provisioned"
    MEMBER_MFA_PENDING = "member.mfa_pending"
    MEMBER_MFA_PHONE_RESET = "member.mfa_phone_reset"
    MEMBER_UNLOCKED = "member.unlocked"
    MEMBER_UPDATED = "member.updated"
    MFA_SMS_AUTHENTICATED = "mfa.sms_authenticated"
    MFA_SMS_FAILED = "mfa.sms_failed"
    MFA_SMS_SENT = "mfa.sms_sent"
    ORGANIZATION_CREATED = "organization.created"
    ORGANIZATION_DELETED = "organization.deleted"
    ORGANIZATION_UPDATED = "organization.updated"
    PROJECT_CREATED = "project.created"
    PROJECT_SECRET_CREATED = "project.secret_created"  # noqa: S105 (an event name)
    PROJECT_SECRET_REVOKED = "project.secret_revoked"  # noqa: S105
    REDIRECT_URL_ADDED = "redirect_url.added"
    REDIRECT_URL_REMOVED = "redirect_url.removed"
    SESSION_EXCHANGED = "session.exchanged"
    SESSION_REVOKED = "session.revoked"
    SESSION_STARTED = "session.started"
    SESSION_STEPPED_UP = "session.stepped_up"
    SIGNING_KEY_CREATED = "signing_key.created"
    SIGNING_KEY_RETIRED = "signing_key.retired"
