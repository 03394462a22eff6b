"""Every answer of the SSO operations, successes and refusals, is what the OpenAPI document
promises (the response models forbid undocumented keys)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from antechamber.organizations.models import Organization
from tests import openapi_document
from tests.sso import fake_idp
from tests.sso.conftest import callback, sso_token_of, start
from tests.sso.test_connections_sdk import idp_certificate


@pytest.fixture
def recorded(api: TestClient) -> Iterator[list[httpx.Response]]:
    seen: list[httpx.Response] = []

    def keep(response: httpx.Response) -> None:
        response.read()
        if response.request.url.path.startswith("/v1/b2b/sso/") and "/callback/" not in str(
            response.request.url
        ):
            seen.append(response)

    api.event_hooks["response"].append(keep)
    yield seen
    api.event_hooks["response"].remove(keep)


def test_every_sso_answer_is_documented(
    app: Any,
    api: TestClient,
    recorded: list[httpx.Response],
    corp: Organization,
    idp: fake_idp.FakeIdp,
    public_token: str,
    connection_id: str,
) -> None:
    base = "/v1/b2b/sso"
    saml = api.post(f"{base}/saml/{corp.id}", json={"display_name": "Okta"}).json()["connection"]
    sid = saml["connection_id"]
    full = api.put(
        f"{base}/saml/{corp.id}/connections/{sid}",
        json={
            "idp_entity_id": "https://idp.example/e",
            "idp_sso_url": "https://idp.example/sso",
            "x509_certificate": idp_certificate(),
            "attribute_mapping": {"email": "email", "full_name": "name"},
        },
    ).json()["connection"]
    first = full["verification_certificates"][0]["certificate_id"]
    api.put(
        f"{base}/saml/{corp.id}/connections/{sid}", json={"x509_certificate": idp_certificate()}
    )
    api.delete(f"{base}/saml/{corp.id}/connections/{sid}/verification_certificates/{first}")
    api.delete(f"{base}/saml/{corp.id}/connections/{sid}/encryption_private_keys/nope")
    api.put(f"{base}/saml/{corp.id}/connections/{sid}/url", json={"metadata_url": "ftp://x"})
    oidc = api.post(f"{base}/oidc/{corp.id}", json={}).json()["connection"]["connection_id"]
    api.put(f"{base}/oidc/{corp.id}/connections/{oidc}", json={"issuer": idp.issuer})  # warning
    api.get(f"{base}/{corp.id}")
    started = start(api, public_token, connection_id=connection_id)
    idp.queue(idp.sign(idp.claims(started.nonce)))
    token = sso_token_of(callback(api, connection_id, started.state).headers["location"])
    api.post(f"{base}/authenticate", json={"sso_token": token})
    api.post(f"{base}/authenticate", json={"sso_token": token})
    api.delete(f"{base}/{corp.id}/connections/{sid}")
    api.delete(f"{base}/{corp.id}/connections/{sid}")

    schema = openapi_document.b2b_schema()
    schema.app = app
    document = app.openapi()
    answered: set[tuple[str, str]] = set()
    for response in recorded:
        method, path = response.request.method, response.request.url.path
        candidates = [
            t
            for t, ops in document["paths"].items()
            if method.lower() in ops and re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", t), path)
        ]
        template = min(candidates, key=lambda t: t.count("{"))
        schema[template][method].validate_response(response)
        if response.is_success:
            answered.add((method, template))
    expected = {
        (m.upper(), t)
        for t, ops in document["paths"].items()
        if t.startswith("/v1/b2b/sso/")
        for m in ops
    }
    # Their successes are walked elsewhere (test_saml_flow, test_connections_sdk).
    elsewhere = {
        op for op in expected if op[1].endswith(("/{private_key_id}", "/{connection_id}/url"))
    }
    missing = expected - answered - elsewhere
    assert missing == set(), "SSO operations the walk did not reach with a success"
