"""The discovery flow over HTTP, step by step, for tests that start from a logged-in member."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from antechamber.services import Services
from tests.factories import allow_redirect, magic_token, make_member, make_org, message_ids

SEND = "/v1/b2b/magic_links/email/discovery/send"
AUTHENTICATE = "/v1/b2b/magic_links/discovery/authenticate"
LIST = "/v1/b2b/discovery/organizations"
CREATE = "/v1/b2b/discovery/organizations/create"
EXCHANGE = "/v1/b2b/discovery/intermediate_sessions/exchange"
SESSION_AUTHENTICATE = "/v1/b2b/sessions/authenticate"
SESSION_REVOKE = "/v1/b2b/sessions/revoke"
SESSION_EXCHANGE = "/v1/b2b/sessions/exchange"


def discover(api: TestClient, services: Services, email: str) -> dict[str, Any]:
    """Send a discovery link to `email`, read it from the outbox, redeem it: the response."""
    seen = message_ids(services, email.lower())
    sent = api.post(SEND, json={"email_address": email})
    assert sent.status_code == 200, sent.json()
    token = magic_token(services, email.lower(), seen=seen)
    found = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert found.status_code == 200, found.json()
    body: dict[str, Any] = found.json()
    return body


def ist_for(api: TestClient, services: Services, email: str) -> str:
    return str(discover(api, services, email)["intermediate_session_token"])


def enter(api: TestClient, ist: str, organization_id: str, **extra: Any) -> dict[str, Any]:
    """Exchange an IST into an organization; the 200 response body."""
    response = api.post(
        EXCHANGE,
        json={"intermediate_session_token": ist, "organization_id": organization_id, **extra},
    )
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def login(api: TestClient, services: Services, email: str, organization_id: str) -> dict[str, Any]:
    """A full discovery login of `email` into an organization it belongs to: the session body."""
    body = enter(api, ist_for(api, services, email), organization_id)
    assert body["member_authenticated"] is True
    return body


SMS_SEND = "/v1/b2b/otps/sms/send"
SMS_AUTHENTICATE = "/v1/b2b/otps/sms/authenticate"


def ada_signed_in(api: TestClient, services: Services, project_id: str) -> dict[str, Any]:
    """A new organization with one member, ada@acme.example, logged in: `login`'s answer."""
    allow_redirect(services, project_id)
    org = make_org(services, project_id)
    make_member(services, project_id, org, email_address="ada@acme.example")
    return login(api, services, "ada@acme.example", org.id)


def mfa_phone_path(organization_id: str, member_id: str) -> str:
    return f"/v1/b2b/organizations/{organization_id}/members/mfa_phone_numbers/{member_id}"


def send_sms(api: TestClient, pending: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """`otps/sms/send` for the member of a pending login (an MFA answer); the 200 body."""
    response = api.post(
        SMS_SEND,
        json={
            "organization_id": pending["organization"]["organization_id"],
            "member_id": pending["member_id"],
            **fields,
        },
    )
    assert response.status_code == 200, response.json()
    body: dict[str, Any] = response.json()
    return body


def authenticate_sms(api: TestClient, pending: dict[str, Any], code: str, **fields: Any) -> Any:
    """`otps/sms/authenticate` with the pending login's IST; the raw response."""
    fields.setdefault("intermediate_session_token", pending.get("intermediate_session_token"))
    return api.post(
        SMS_AUTHENTICATE,
        json={
            "organization_id": pending["organization"]["organization_id"],
            "member_id": pending["member_id"],
            "code": code,
            **fields,
        },
    )


TOTP_CREATE = "/v1/b2b/totp"
TOTP_AUTHENTICATE = "/v1/b2b/totp/authenticate"
RECOVERY_RECOVER = "/v1/b2b/recovery_codes/recover"
RECOVERY_ROTATE = "/v1/b2b/recovery_codes/rotate"


def recovery_codes_path(organization_id: str, member_id: str) -> str:
    return f"/v1/b2b/recovery_codes/{organization_id}/{member_id}"


def member_totp_path(organization_id: str, member_id: str) -> str:
    return f"/v1/b2b/organizations/{organization_id}/members/{member_id}/totp"


def create_totp(api: TestClient, pending: dict[str, Any], **fields: Any) -> Any:
    """`totp` create for the member of a pending login, with its IST by default; raw response."""
    fields.setdefault("intermediate_session_token", pending.get("intermediate_session_token"))
    return api.post(
        TOTP_CREATE,
        json={
            "organization_id": pending["organization"]["organization_id"],
            "member_id": pending["member_id"],
            **fields,
        },
    )


def authenticate_totp(api: TestClient, pending: dict[str, Any], code: str, **fields: Any) -> Any:
    """`totp/authenticate` with the pending login's IST by default; the raw response."""
    fields.setdefault("intermediate_session_token", pending.get("intermediate_session_token"))
    return api.post(
        TOTP_AUTHENTICATE,
        json={
            "organization_id": pending["organization"]["organization_id"],
            "member_id": pending["member_id"],
            "code": code,
            **fields,
        },
    )


def recover(api: TestClient, pending: dict[str, Any], recovery_code: str, **fields: Any) -> Any:
    """`recovery_codes/recover` with the pending login's IST by default; the raw response."""
    fields.setdefault("intermediate_session_token", pending.get("intermediate_session_token"))
    return api.post(
        RECOVERY_RECOVER,
        json={
            "organization_id": pending["organization"]["organization_id"],
            "member_id": pending["member_id"],
            "recovery_code": recovery_code,
            **fields,
        },
    )
