"""Random bodies at the new endpoints: always a Stytch error envelope, never a 500."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org
from tests.snapshots import unchanged

PATHS = {
    "/v1/b2b/magic_links/email/discovery/send": [
        "email_address",
        "discovery_redirect_url",
        "discovery_expiration_minutes",
        "locale",
        "pkce_code_challenge",
    ],
    "/v1/b2b/magic_links/discovery/authenticate": [
        "discovery_magic_links_token",
        "pkce_code_verifier",
    ],
    "/v1/b2b/discovery/organizations": [
        "intermediate_session_token",
        "session_token",
        "session_jwt",
    ],
    "/v1/b2b/discovery/organizations/create": [
        "intermediate_session_token",
        "organization_name",
        "mfa_policy",
        "email_allowed_domains",
        "session_duration_minutes",
        "session_custom_claims",
    ],
    "/v1/b2b/discovery/intermediate_sessions/exchange": [
        "intermediate_session_token",
        "organization_id",
        "session_duration_minutes",
        "session_custom_claims",
    ],
    "/v1/b2b/sessions/authenticate": [
        "session_token",
        "session_jwt",
        "session_duration_minutes",
        "session_custom_claims",
    ],
    "/v1/b2b/sessions/revoke": ["member_session_id", "session_token", "session_jwt", "member_id"],
    "/v1/b2b/sessions/exchange": ["organization_id", "session_token", "session_jwt"],
    "/v1/b2b/otps/sms/send": [
        "organization_id",
        "member_id",
        "mfa_phone_number",
        "locale",
        "intermediate_session_token",
        "session_token",
        "session_jwt",
    ],
    "/v1/b2b/otps/sms/authenticate": [
        "organization_id",
        "member_id",
        "code",
        "intermediate_session_token",
        "session_token",
        "session_jwt",
        "session_duration_minutes",
        "session_custom_claims",
        "set_mfa_enrollment",
    ],
}
SMS_FIELDS = {
    "mfa_phone_number": st.sampled_from(["", "+12025550123", "+19005550123", "+4474001234"])
    | st.text(max_size=20),
    "locale": st.sampled_from(["en", "fr", "pt-br", "xx", ""]),
    "code": st.text(alphabet="0123456789", min_size=5, max_size=7) | st.text(max_size=8),
    "intermediate_session_token": st.text(max_size=50),
    "session_token": st.text(max_size=50),
    "session_jwt": st.sampled_from(["a.b.c", "eyJhbGciOiJub25lIn0.e30."]),
    "session_duration_minutes": st.integers(-10, 10**6),
    "set_mfa_enrollment": st.sampled_from(["enroll", "unenroll", "", "maybe"]),
}

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63)
    # NaN, infinities and lone surrogates too: Python's JSON reader takes them in (they used to
    # be 500s once echoed or stored).
    | st.floats()
    | st.text(max_size=40)
    | st.sampled_from(
        ["", "undefined", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", "ada@acme.example", "\ud800"]
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    path = draw(st.sampled_from(sorted(PATHS)))
    keys = draw(st.lists(st.sampled_from(PATHS[path]), unique=True))
    return path, {key: draw(json_values) for key in keys}


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(request=requests())
def test_no_body_makes_the_server_fail(
    api: TestClient, services: Services, project: Credentials, request: tuple[str, dict[str, Any]]
) -> None:
    allow_redirect(services, project.project_id)
    path, body = request
    # Encoded here (ASCII escapes, NaN allowed): the test client's encoder refuses both.
    response = api.post(
        path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, (path, body, response.text)
    payload = response.json()
    assert payload["status_code"] == response.status_code
    assert isinstance(payload["request_id"], str)
    if response.status_code >= 400:
        assert payload["error_type"]
        assert payload["error_message"]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    path=st.sampled_from(["/v1/b2b/otps/sms/send", "/v1/b2b/otps/sms/authenticate"]),
    fields=st.fixed_dictionaries({}, optional=SMS_FIELDS),
    extra=st.dictionaries(st.sampled_from(sorted(SMS_FIELDS)), json_values, max_size=2),
)
def test_sms_routes_for_a_real_member_never_fail(
    api: TestClient,
    services: Services,
    project: Credentials,
    path: str,
    fields: dict[str, Any],
    extra: dict[str, Any],
) -> None:
    org = make_org(services, project.project_id, mfa_policy="REQUIRED_FOR_ALL")
    member = make_member(services, project.project_id, org)
    body = {"organization_id": org.id, "member_id": member.id, **fields, **extra}
    # Serialised here: the values include NaN and lone surrogates, which httpx's json= refuses
    # to send; the server must refuse them itself.
    response = api.post(
        path, content=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        assert response.json()["error_type"]


def test_nul_characters_are_refused_not_crashed_on(api: TestClient, engine: Engine) -> None:
    # PostgreSQL cannot hold NUL in text; wherever one arrives the answer is a 4xx envelope.
    with unchanged(engine):
        _nul_everywhere(api)


def _nul_everywhere(api: TestClient) -> None:
    for method, path, body in [
        ("POST", "/v1/b2b/sessions/revoke", {"member_session_id": "a\x00b"}),
        ("POST", "/v1/b2b/sessions/revoke", {"member_id": "a\x00b"}),
        ("POST", "/v1/b2b/sessions/exchange", {"organization_id": "a\x00", "session_token": "x"}),
        ("GET", "/v1/b2b/sessions?organization_id=a%00&member_id=b", None),
        ("GET", "/v1/b2b/organizations/a%00b", None),
        ("GET", "/v1/b2b/sessions/jwks/project-test-a%00b", None),
        ("POST", "/v1/b2b/otps/sms/send", {"organization_id": "a\x00", "member_id": "b"}),
        (
            "POST",
            "/v1/b2b/otps/sms/authenticate",
            {"organization_id": "a", "member_id": "b\x00", "code": "123456", "session_token": "x"},
        ),
        ("DELETE", "/v1/b2b/organizations/a%00/members/mfa_phone_numbers/b", None),
    ]:
        response = api.request(method, path, json=body)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.json()["error_type"]
