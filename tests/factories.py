"""Factories: objects made through the domain functions, as a user of the product would."""

from __future__ import annotations

import itertools
from typing import Any
from urllib.parse import parse_qs, urlsplit

from antechamber.delivery import outbox
from antechamber.members import service as members
from antechamber.members.models import Member
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.redirects import service as redirects
from antechamber.services import Services

_seq = itertools.count(1)


def make_org(services: Services, project_id: str, **fields: Any) -> Organization:
    n = next(_seq)
    fields.setdefault("organization_name", f"Org {n}")
    fields.setdefault("organization_slug", f"org-{n}")
    with services.scope(project_id, "test", "test") as scope:
        return organizations.create_organization(scope, fields)


def make_member(services: Services, project_id: str, org: Organization, **fields: Any) -> Member:
    fields.setdefault("email_address", f"person{next(_seq)}@example.com")
    with services.scope(project_id, "test", "test") as scope:
        return members.create_member(scope, org, fields)


CALLBACK_URL = "http://localhost:3000/auth/callback"


def allow_redirect(services: Services, project_id: str, url: str = CALLBACK_URL) -> None:
    """Register a discovery redirect URL for the project (the first becomes the default)."""
    with services.scope(project_id, "test", "test") as scope:
        redirects.add_redirect_url(scope, url, kind="discovery")


def message_ids(services: Services, email: str) -> set[str]:
    with services.sessions() as session:
        return {m.id for m in outbox.recent(session, recipient=email, limit=1000)}


def last_link(services: Services, email: str, *, seen: set[str] | None = None) -> str:
    """The URL of the newest magic link emailed to `email`, read back from the outbox.

    The test clock is frozen, so messages may share a timestamp: pass the ids `seen` before
    the send to pick the new one for sure.
    """
    with services.sessions() as session:
        messages = [
            m
            for m in outbox.recent(session, recipient=email, limit=1000)
            if m.id not in (seen or set())
        ]
        assert messages, f"no message to {email}"
        return str(outbox.context_of(messages[0], services.settings.key_bytes())["url"])


def token_of(url: str) -> str:
    query = parse_qs(urlsplit(url).query)
    assert query["stytch_token_type"] == ["discovery"]
    return query["token"][0]


def magic_token(services: Services, email: str, *, seen: set[str] | None = None) -> str:
    return token_of(last_link(services, email, seen=seen))


def lock_member(services: Services, member: Member) -> None:
    """Lock a member the way wrong codes do: failures up to the lockout threshold."""
    from antechamber.mfa import lockout

    with services.scope(member.project_id, "test", "test") as scope:
        for _ in range(services.settings.mfa_lockout_threshold):
            lockout.record_failure(scope, member)


def make_operator(
    services: Services, email: str = "ops@antechamber.example", phone: str = "+12025550123"
) -> Member:
    """An operator, as `antechamber operators add` makes one."""
    from antechamber import db
    from antechamber.operators import service as operators

    with db.transaction(services.sessions) as session:
        return operators.add_operator(
            session,
            email=email,
            phone=phone,
            name="Olive Operator",
            actor="cli",
            clock=services.clock,
            settings=services.settings,
        )


def open_console_session(services: Services, member_id: str) -> str:
    """A console session made the way the real sign-in makes it, through the seam
    `admin.signin.open_console_session`; returns the cookie value."""
    from antechamber import db
    from antechamber.admin import signin

    with db.transaction(services.sessions) as session:
        issued = signin.open_console_session(
            session,
            member_id=member_id,
            mfa_method="sms_otp",
            clock=services.clock,
            settings=services.settings,
            user_agent="pytest",
            ip_address="127.0.0.1",
        )
    return issued.token


def sms_ids(services: Services, phone: str) -> set[str]:
    """Ids of the text messages to `phone` so far (pass as `seen` to pick a new one)."""
    with services.sessions() as session:
        return {m.id for m in outbox.recent(session, recipient=phone, limit=1000)}


def sms_count(services: Services, phone: str) -> int:
    return len(sms_ids(services, phone))


def last_code(services: Services, phone: str, *, seen: set[str] | None = None) -> str:
    """The newest SMS code texted to `phone`, read back from the outbox (sealed there)."""
    with services.sessions() as session:
        messages = [
            m
            for m in outbox.recent(session, recipient=phone, limit=1000)
            if m.id not in (seen or set())
        ]
        assert messages, f"no text message to {phone}"
        assert messages[0].template == "sms_otp"
        return str(outbox.context_of(messages[0], services.settings.key_bytes())["code"])


def verify_phone(services: Services, member: Member) -> None:
    """Mark the member's phone verified, as a past SMS authenticate would have."""
    with services.scope(member.project_id, "test", "test") as scope:
        row = scope.db.get(Member, member.id)
        assert row is not None
        assert row.mfa_phone_number
        row.mfa_phone_number_verified = True


def start_session(
    services: Services, project_id: str, org: Organization, member: Member
) -> tuple[str, str, str]:
    """A live session of `member` started by an email magic link: (id, token, JWT)."""
    from antechamber.sessions import factors
    from antechamber.sessions import service as sessions

    with services.scope(project_id, "test", "test") as scope:
        row_org = scope.db.get(Organization, org.id)
        row_member = scope.db.get(Member, member.id)
        assert row_org is not None
        assert row_member is not None
        factor = factors.magic_link(
            scope.environment, project_id, row_member.email_address, scope.clock.now()
        )
        started = sessions.start(scope, row_org, row_member, [factor])
        return started.session.id, started.session_token, started.session_jwt


def enrol_totp(services: Services, project_id: str, org: Organization, member: Member) -> str:
    """Give `member` (without a verified phone) an active authenticator app; its secret."""
    import pyotp

    from antechamber.totp import service as totp

    _, token, _ = start_session(services, project_id, org, member)
    with services.scope(project_id, "test", "test") as scope:
        created = totp.create_totp(
            scope, organization_id=org.id, member_id=member.id, session_token=token
        )
    with services.scope(project_id, "test", "test") as scope:
        code = pyotp.TOTP(created.secret).at(scope.clock.now().timestamp())
        totp.authenticate_totp(
            scope, organization_id=org.id, member_id=member.id, code=code, session_token=token
        )
    return created.secret
