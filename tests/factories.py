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
