"""`antechamber sso …` and `antechamber public-token …`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.cli.conftest import run
from tests.conftest import Credentials


@pytest.mark.usefixtures("cli_env")
def test_saml_connection_from_metadata_file_to_active(
    capsys: pytest.CaptureFixture[str],
    acme: Organization,
    project: Credentials,
    services: Services,
    tmp_path: Path,
) -> None:
    from tests.sso.test_connections_sdk import idp_certificate

    code, out, err = run(
        capsys, "sso", "saml", "create", "acme", "--name", "Okta", "--idp", "okta",
        "--project", project.project_id, "--json",
    )  # fmt: skip
    assert code == 0, err
    created = json.loads(out)
    assert created["status"] == "pending"
    assert created["acs_url"].endswith(f"/v1/b2b/sso/callback/{created['connection_id']}")
    assert created["audience_uri"] == created["acs_url"]

    pem = idp_certificate()
    body = "".join(pem.strip().splitlines()[1:-1])
    metadata = tmp_path / "idp.xml"
    metadata.write_text(
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
        'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://idp.example/entity">'
        '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
        '<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
        f"{body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        '<md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" '
        'Location="https://idp.example/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>'
    )
    code, out, err = run(
        capsys, "sso", "saml", "update", "acme", created["connection_id"],
        "--metadata-file", str(metadata),
        "--attribute-mapping", '{"email": "email", "full_name": "name"}',
        "--project", project.project_id, "--json",
    )  # fmt: skip
    assert code == 0, err
    updated = json.loads(out)
    assert updated["status"] == "active"
    assert updated["idp_entity_id"] == "https://idp.example/entity"
    assert updated["idp_sso_url"] == "https://idp.example/sso"

    code, out, _ = run(capsys, "sso", "list", "acme", "--project", project.project_id)
    assert created["connection_id"] in out
    assert "active" in out
    code, out, _ = run(
        capsys, "sso", "delete", "acme", created["connection_id"], "--project", project.project_id
    )
    assert code == 0
    code, _, err = run(
        capsys, "sso", "delete", "acme", created["connection_id"], "--project", project.project_id
    )
    assert code == 1
    assert "sso_connection_not_found" in err
    code, out, _ = run(capsys, "audit", "list", "--project", project.project_id, "--json")
    kinds = {event["event_type"] for event in json.loads(out)["events"]}
    assert {"sso.connection_created", "sso.connection_updated", "sso.connection_deleted"} <= kinds


@pytest.mark.usefixtures("cli_env")
def test_oidc_connection_secret_is_not_taken_on_the_command_line(
    capsys: pytest.CaptureFixture[str],
    acme: Organization,
    project: Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, out, err = run(
        capsys, "sso", "oidc", "create", "acme", "--project", project.project_id, "--json"
    )
    assert code == 0, err
    cid = json.loads(out)["connection_id"]
    monkeypatch.setenv("ANTECHAMBER_OIDC_CLIENT_SECRET", "from-the-environment")
    code, out, err = run(
        capsys, "sso", "oidc", "update", "acme", cid,
        "--issuer", "https://idp.invalid", "--client-id", "client-1", "--client-secret",
        "--authorization-url", "https://idp.invalid/authorize",
        "--token-url", "https://idp.invalid/token",
        "--userinfo-url", "https://idp.invalid/userinfo",
        "--jwks-url", "https://idp.invalid/jwks",
        "--project", project.project_id, "--json",
    )  # fmt: skip
    assert code == 0, err
    shown = json.loads(out)
    assert shown["status"] == "active"
    assert shown["client_secret_set"] is True
    assert "from-the-environment" not in out


@pytest.mark.usefixtures("cli_env")
def test_public_token_show_and_rotate(
    capsys: pytest.CaptureFixture[str], project: Credentials
) -> None:
    _, first, _ = run(capsys, "public-token", "show", "--project", project.project_id)
    _, again, _ = run(capsys, "public-token", "show", "--project", project.project_id)
    assert first == again
    assert first.startswith("public-token-test-")
    _, rotated, _ = run(capsys, "public-token", "rotate", "--project", project.project_id)
    assert rotated != first


@pytest.mark.usefixtures("cli_env")
def test_testing_a_saml_connection_says_what_is_missing(
    capsys: pytest.CaptureFixture[str], acme: Organization, project: Credentials
) -> None:
    _, out, _ = run(
        capsys, "sso", "saml", "create", "acme", "--project", project.project_id, "--json"
    )
    cid = json.loads(out)["connection_id"]
    code, out, _ = run(capsys, "sso", "test", "acme", cid, "--project", project.project_id)
    assert code == 1
    assert "FAIL  idp_sso_url: Not set." in out
    assert "FAIL  certificates: No verification certificate." in out
