"""Every answer of `/v1/b2b` is one the OpenAPI document promises.

Fuzzing (test_fuzz_openapi.py) mostly reaches refusals; this walks every operation through a
real login, on purpose, and holds each answer (successes in each of their shapes, and
refusals) to the served document: status code, content type and body, with no undocumented
key (the response models forbid them).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from antechamber.services import Services
from tests import openapi_document
from tests.conftest import Credentials
from tests.factories import allow_redirect, magic_token, message_ids
from tests.flows import (
    AUTHENTICATE,
    CREATE,
    EXCHANGE,
    LIST,
    SEND,
    SESSION_AUTHENTICATE,
    SESSION_EXCHANGE,
    SESSION_REVOKE,
)

ORGS = "/v1/b2b/organizations"


@pytest.fixture
def recorded(api: TestClient) -> Iterator[list[httpx.Response]]:
    seen: list[httpx.Response] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        seen.append(response)

    api.event_hooks["response"].append(keep)
    yield seen
    api.event_hooks["response"].remove(keep)


def _operation_of(document: dict[str, Any], method: str, path: str) -> str:
    """The path template that `path` was served by (literal paths before templated ones)."""
    candidates = [
        template
        for template, operations in document["paths"].items()
        if method.lower() in operations
        and re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), path)
    ]
    assert candidates, f"no documented operation for {method} {path}"
    return min(candidates, key=lambda t: t.count("{"))


def _login(api: TestClient, services: Services, email: str) -> dict[str, Any]:
    seen = message_ids(services, email)
    assert api.post(SEND, json={"email_address": email}).status_code == 200
    token = magic_token(services, email, seen=seen)
    found: dict[str, Any] = api.post(
        AUTHENTICATE, json={"discovery_magic_links_token": token}
    ).json()
    return found


def test_every_answer_of_a_full_walk_is_documented(
    app: Any,
    api: TestClient,
    services: Services,
    project: Credentials,
    recorded: list[httpx.Response],
) -> None:
    pid = project.project_id
    allow_redirect(services, pid)
    # Organizations and members, through the API.
    org = api.post(
        ORGS,
        json={
            "organization_name": "Acme",
            "organization_slug": "acme",
            "email_allowed_domains": ["acme.example"],
            "email_jit_provisioning": "RESTRICTED",
            "trusted_metadata": {"tier": "gold"},
        },
    ).json()["organization"]
    oid = org["organization_id"]
    strict = api.post(
        ORGS, json={"organization_name": "Strict", "mfa_policy": "REQUIRED_FOR_ALL"}
    ).json()["organization"]
    sso_only = api.post(
        ORGS,
        json={
            "organization_name": "SSO only",
            "auth_methods": "RESTRICTED",
            "allowed_auth_methods": ["sso"],
        },
    ).json()["organization"]
    api.post(ORGS + "/search", json={"limit": 1})
    api.get(f"{ORGS}/{oid}")
    api.put(f"{ORGS}/{oid}", json={"organization_name": "Acme Inc"})
    member = api.post(
        f"{ORGS}/{oid}/members",
        json={"email_address": "ada@acme.example", "name": "Ada", "roles": ["stytch_admin"]},
    ).json()["member"]
    mid = member["member_id"]
    for other in (strict, sso_only):
        api.post(
            f"{ORGS}/{other['organization_id']}/members",
            json={"email_address": "ada@acme.example", "mfa_phone_number": "+12025550123"},
        )
    api.get(f"{ORGS}/{oid}/member", params={"member_id": mid})
    api.put(f"{ORGS}/{oid}/members/{mid}", json={"untrusted_metadata": {"theme": "dark"}})
    api.post(
        f"{ORGS}/members/search",
        json={"organization_ids": [oid, strict["organization_id"]], "limit": 1},
    )
    # Discovery: an existing member, and someone eligible by domain only.
    found = _login(api, services, "ada@acme.example")
    ist = found["intermediate_session_token"]
    api.post(LIST, json={"intermediate_session_token": ist})
    session = api.post(EXCHANGE, json={"intermediate_session_token": ist, "organization_id": oid})
    session = session.json()
    token, jwt = session["session_token"], session["session_jwt"]
    api.post(LIST, json={"session_token": token})
    api.post(SESSION_AUTHENTICATE, json={"session_token": token})
    api.post(SESSION_AUTHENTICATE, json={"session_jwt": jwt, "session_custom_claims": {"a": 1}})
    api.get("/v1/b2b/sessions", params={"organization_id": oid, "member_id": mid})
    # Exchanges that stop half way: MFA needed, then a primary factor needed.
    api.post(
        SESSION_EXCHANGE,
        json={"organization_id": strict["organization_id"], "session_token": token},
    )
    api.post(
        SESSION_EXCHANGE, json={"organization_id": sso_only["organization_id"], "session_jwt": jwt}
    )
    jit = _login(api, services, "bob@acme.example")["intermediate_session_token"]
    api.post(EXCHANGE, json={"intermediate_session_token": jit, "organization_id": oid})
    newcomer = _login(api, services, "cy@elsewhere.example")["intermediate_session_token"]
    api.post(CREATE, json={"intermediate_session_token": newcomer, "organization_name": "Cy's"})
    api.get(f"/v1/b2b/sessions/jwks/{pid}", auth=None)
    api.post(SESSION_REVOKE, json={"session_token": token})
    # Refusals of every kind.
    api.get(f"{ORGS}/nope")
    api.post(SESSION_AUTHENTICATE, json={"session_jwt": "not.a.jwt"})
    api.post(SESSION_AUTHENTICATE, json={})
    api.post(ORGS, content=b"{", headers={"Content-Type": "application/json"})
    api.post(ORGS, content=b"name=x", headers={"Content-Type": "text/plain"})
    api.post(ORGS, content=b"x" * (services.settings.max_body_bytes + 1))
    api.patch(f"{ORGS}/{oid}", json={})
    api.get(f"{ORGS}/{oid}", auth=("project-test-nobody", "wrong"))
    for _ in range(3):
        api.post(SEND, json={"email_address": "ada@acme.example"})  # the 3rd of a minute → 429
    api.delete(f"{ORGS}/{oid}/members/{mid}")
    api.delete(f"{ORGS}/{oid}")

    document = app.openapi()
    assert document == openapi_document.document()  # the parsed copy is of this very document
    schema = openapi_document.b2b_schema()
    schema.app = app
    answered: set[tuple[str, str]] = set()
    statuses: set[int] = set()
    for response in recorded:
        method, path = response.request.method, response.request.url.path
        template = _operation_of(document, method, path) if method != "PATCH" else None
        statuses.add(response.status_code)
        if template is None:  # no such operation: the error envelope, checked by hand
            assert set(response.json()) >= {"error_type", "error_message", "request_id"}
            continue
        schema[template][method].validate_response(response)
        if response.is_success:
            answered.add((method, template))
    expected = {
        (method.upper(), template)
        for template, operations in document["paths"].items()
        if template.startswith("/v1/b2b/") and template in WALKED
        for method in operations
    }
    assert expected - answered == set(), "operations the walk did not reach with a success"
    assert {200, 400, 401, 404, 405, 413, 415, 429} <= statuses
    kinds = {
        (r.json().get("mfa_required") is not None, r.json().get("primary_required") is not None)
        for r in recorded
        if r.is_success and "member_authenticated" in r.json()
    }
    assert kinds == {(False, False), (True, False), (False, True)}  # all three shapes


#: The operations this walk covers. A new operation must document its answers (see
#: test_every_operation_documents_its_answers); add it to the walk too.
WALKED = {
    "/v1/b2b/organizations",
    "/v1/b2b/organizations/search",
    "/v1/b2b/organizations/{organization_id}",
    "/v1/b2b/organizations/members/search",
    "/v1/b2b/organizations/{organization_id}/members",
    "/v1/b2b/organizations/{organization_id}/member",
    "/v1/b2b/organizations/{organization_id}/members/{member_id}",
    "/v1/b2b/magic_links/email/discovery/send",
    "/v1/b2b/magic_links/discovery/authenticate",
    "/v1/b2b/discovery/organizations",
    "/v1/b2b/discovery/organizations/create",
    "/v1/b2b/discovery/intermediate_sessions/exchange",
    "/v1/b2b/sessions/authenticate",
    "/v1/b2b/sessions/revoke",
    "/v1/b2b/sessions",
    "/v1/b2b/sessions/exchange",
    "/v1/b2b/sessions/jwks/{project_id}",
}


def test_every_operation_documents_its_answers(app: Any) -> None:
    """Each `/v1/b2b` operation names its success shape and the error envelope for 4xx/5xx,
    so fuzzing can tell a right answer from a wrong one."""
    document = app.openapi()
    for template, operations in document["paths"].items():
        if not template.startswith("/v1/b2b/"):
            continue
        for method, operation in operations.items():
            answers = operation["responses"]
            success = answers["200"]["content"]["application/json"]["schema"]
            assert success.get("$ref", "").startswith("#/components/schemas/"), (method, template)
            for kind in ("4XX", "5XX"):
                error = answers[kind]["content"]["application/json"]["schema"]
                assert error == {"$ref": "#/components/schemas/ErrorEnvelope"}, (method, template)
            assert "422" not in answers, (method, template)  # validation errors are 400s


def test_every_answer_of_a_totp_walk_is_documented(
    app: Any,
    api: TestClient,
    services: Services,
    project: Credentials,
    recorded: list[httpx.Response],
) -> None:
    """TOTP and recovery codes: create, authenticate, recover, rotate, get (refused), delete."""
    import pyotp

    from tests.flows import (
        RECOVERY_ROTATE,
        authenticate_totp,
        create_totp,
        member_totp_path,
        recover,
        recovery_codes_path,
    )

    allow_redirect(services, project.project_id)
    strict = api.post(
        ORGS, json={"organization_name": "Strict", "mfa_policy": "REQUIRED_FOR_ALL"}
    ).json()["organization"]
    oid = strict["organization_id"]
    mid = api.post(f"{ORGS}/{oid}/members", json={"email_address": "ada@acme.example"}).json()[
        "member_id"
    ]

    def pending() -> dict[str, Any]:
        ist = _login(api, services, "ada@acme.example")["intermediate_session_token"]
        body: dict[str, Any] = api.post(
            EXCHANGE, json={"intermediate_session_token": ist, "organization_id": oid}
        ).json()
        return body

    first = pending()
    created = create_totp(api, first).json()
    now = services.clock.now().timestamp()
    authenticate_totp(api, first, "12345")  # refused: not 6 digits
    authenticate_totp(api, first, pyotp.TOTP(created["secret"]).at(now))
    authenticate_totp(api, pending(), pyotp.TOTP(created["secret"]).at(now))  # replay: refused
    recover(api, pending(), created["recovery_codes"][0])
    api.post(RECOVERY_ROTATE, json={"organization_id": oid, "member_id": mid})
    api.get(recovery_codes_path(oid, mid))
    api.delete(member_totp_path(oid, mid))

    document = app.openapi()
    schema = openapi_document.b2b_schema()
    schema.app = app
    answered: set[tuple[str, str]] = set()
    for response in recorded:
        method, path = response.request.method, response.request.url.path
        template = _operation_of(document, method, path)
        schema[template][method].validate_response(response)
        if response.is_success:
            answered.add((method, template))
    assert {
        ("POST", "/v1/b2b/totp"),
        ("POST", "/v1/b2b/totp/authenticate"),
        ("POST", "/v1/b2b/recovery_codes/recover"),
        ("POST", "/v1/b2b/recovery_codes/rotate"),
        ("DELETE", "/v1/b2b/organizations/{organization_id}/members/{member_id}/totp"),
    } <= answered
