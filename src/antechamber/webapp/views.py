"""What the app shows of Stytch's objects: trimmed copies for JSON answers, and words for pages.

Answers carry only what the tutorial's frontend and our pages read (seed-app.md §4.5): never
a token, never `trusted_metadata`, and the member's phone number masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from antechamber.phones import masked
from antechamber.webapp.backend import JSON, OPTIONAL, REQUIRED_FOR_ALL


def organization_json(org: JSON) -> JSON:
    return {
        "organization_id": org.get("organization_id", ""),
        "organization_name": org.get("organization_name", ""),
        "organization_slug": org.get("organization_slug", ""),
        "mfa_policy": org.get("mfa_policy", ""),
        "email_allowed_domains": list(org.get("email_allowed_domains") or []),
        "email_jit_provisioning": org.get("email_jit_provisioning", ""),
    }


def member_json(member: JSON) -> JSON:
    phone = member.get("mfa_phone_number") or ""
    return {
        "member_id": member.get("member_id", ""),
        "organization_id": member.get("organization_id", ""),
        "email_address": member.get("email_address", ""),
        "name": member.get("name", ""),
        "status": member.get("status", ""),
        "is_admin": bool(member.get("is_admin")),
        "mfa_enrolled": bool(member.get("mfa_enrolled")),
        "mfa_phone_number": masked(phone) if phone else "",
        "mfa_phone_number_verified": bool(member.get("mfa_phone_number_verified")),
    }


def discovered_json(found: JSON) -> JSON:
    org = found.get("organization") or {}
    membership = found.get("membership") or {}
    details = membership.get("details") or {}
    domain = details.get("domain") if isinstance(details, dict) else None
    return {
        "organization": {
            "organization_id": org.get("organization_id", ""),
            "organization_name": org.get("organization_name", ""),
            "organization_slug": org.get("organization_slug", ""),
            "mfa_policy": org.get("mfa_policy", ""),
        },
        "membership": {
            "type": membership.get("type", ""),
            "details": {"domain": domain} if domain else None,
        },
        "member_authenticated": bool(found.get("member_authenticated")),
        "mfa_required": found.get("mfa_required") is not None,
        "primary_required": found.get("primary_required") is not None,
    }


def method_allowed(org: JSON, method: str) -> bool:
    """Whether the organization lets members use `method` (`sms_otp`, `totp`) as their second
    factor: any method unless `mfa_methods` is RESTRICTED to `allowed_mfa_methods`."""
    if org.get("mfa_methods") != "RESTRICTED":
        return True
    return method in (org.get("allowed_mfa_methods") or [])


def _role_ids(member: JSON) -> set[str]:
    roles: Any = member.get("roles") or []
    ids = {"stytch_member"}
    for role in roles:
        if isinstance(role, dict) and isinstance(role.get("role_id"), str):
            ids.add(role["role_id"])
        elif isinstance(role, str):
            ids.add(role)
    return ids


def required_by_policy(org: JSON, member: JSON) -> bool:
    """MFA the member cannot turn off: the organization requires it of everyone, or of one of
    their roles (`mfa_required_roles`, an Antechamber extension)."""
    if org.get("mfa_policy") == REQUIRED_FOR_ALL:
        return True
    required = set(org.get("mfa_required_roles") or [])
    return bool(required & _role_ids(member))


@dataclass(frozen=True)
class MfaStatus:
    """The member's MFA as the dashboard explains it."""

    policy: str
    required: bool
    enrolled: bool
    phone: str
    phone_verified: bool
    totp: bool = False
    sms_allowed: bool = True
    totp_allowed: bool = True

    @property
    def can_set_up_totp(self) -> bool:
        """The member may add an authenticator app (one per member; the org allows it)."""
        return self.totp_allowed and not self.totp

    @property
    def has_factor(self) -> bool:
        """A second factor is in use: someone holding only the mailbox must not remove MFA."""
        return self.totp or self.phone_verified

    @property
    def can_opt_in(self) -> bool:
        return self.policy == OPTIONAL and not self.required and not self.enrolled

    @property
    def can_opt_out(self) -> bool:
        return self.policy == OPTIONAL and not self.required and self.enrolled

    @property
    def active(self) -> bool:
        return self.required or self.enrolled

    def policy_words(self, organization_name: str) -> str:
        if self.policy == REQUIRED_FOR_ALL:
            return (
                f"{organization_name} requires MFA for every member: after the email link, "
                "each sign-in also asks for a code sent to your phone."
            )
        if self.required:
            return (
                f"MFA is optional in {organization_name}, but your role requires it: each "
                "sign-in also asks for a code sent to your phone."
            )
        return (
            f"MFA is optional in {organization_name}: each member decides whether signing in "
            "also asks for a code sent to their phone."
        )

    def status_words(self) -> str:
        if not self.active:
            return "Signing in needs only the link we email you."
        if self.totp and self.totp_allowed:
            if self.phone and self.phone_verified and self.sms_allowed:
                return (
                    "Each sign-in also asks for a code from your authenticator app (or one we "
                    f"text to {self.phone})."
                )
            return "Each sign-in also asks for a code from your authenticator app."
        if self.phone and self.phone_verified:
            return f"Each sign-in also asks for a code we text to {self.phone}."
        return "You'll add your mobile number the next time you sign in."

    def as_json(self) -> JSON:
        return {
            "policy": self.policy,
            "requiredByPolicy": self.required,
            "enrolled": self.enrolled,
            "active": self.active,
            "phone": self.phone,
            "canOptIn": self.can_opt_in,
            "canOptOut": self.can_opt_out,
            "authenticatorApp": self.totp,
        }


def mfa_status(org: JSON, member: JSON) -> MfaStatus:
    phone = member.get("mfa_phone_number") or ""
    return MfaStatus(
        policy=str(org.get("mfa_policy") or OPTIONAL),
        required=required_by_policy(org, member),
        enrolled=bool(member.get("mfa_enrolled")),
        phone=masked(phone) if phone else "",
        phone_verified=bool(member.get("mfa_phone_number_verified")),
        totp=bool(member.get("totp_registration_id")),
        sms_allowed=method_allowed(org, "sms_otp"),
        totp_allowed=method_allowed(org, "totp"),
    )


MEMBERSHIP_LABELS = {
    "pending_member": "Join {name}",
    "eligible_to_join_by_email_domain": "Join {name} via your {domain} email",
    "invited_member": "Accept invite for {name}",
}


def membership_label(found: JSON) -> str:
    """The tutorial's button text for a discovered organization."""
    name = found["organization"]["organization_name"]
    kind = found["membership"]["type"]
    details = found["membership"]["details"] or {}
    template = MEMBERSHIP_LABELS.get(kind, "Continue to {name}")
    return template.format(name=name, domain=details.get("domain") or "")
