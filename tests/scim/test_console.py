"""The console's SCIM page: create a connection (token shown once), rotate, see the last
requests' outcomes (no token, no personal data), delete."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from antechamber.organizations.models import Organization
from tests.admin.conftest import Console, console, operator
from tests.conftest import Credentials
from tests.scim.conftest import Connection, Scim

__all__ = ["console", "operator"]


def token_on(html: str) -> str:
    match = re.search(r'id="token" type="text" value="([^"]+)"', html)
    assert match, "no token on the page"
    return match.group(1)


def test_create_rotate_requests_delete(
    console: Console, client: TestClient, project: Credentials, acme: Organization
) -> None:
    page = f"/admin/projects/{project.project_id}/orgs/{acme.id}/scim"
    empty = console.get(page)
    assert empty.status_code == 200
    assert "Create the SCIM connection" in empty.text

    created = console.post(page, {"display_name": "Okta", "identity_provider": "okta"})
    assert created.status_code == 200
    token = token_on(created.text)
    base_url = re.search(r'id="base-url" type="text" value="([^"]+)"', created.text)
    assert base_url
    # Shown once: the next visit shows the last four only.
    again = console.get(page).text
    assert token not in again
    assert f"…{token[-4:]}" in again

    connection_id = re.search(r"(scim-connection-test-[0-9a-f-]+)", again)
    assert connection_id
    scim = Scim(client, Connection(connection_id.group(1), acme.id, token, base_url.group(1)))
    scim.create_user("ada@acme.example")
    assert scim.get("/Users/missing").status_code == 404
    listed = console.get(page).text
    assert "POST /Users" in listed
    assert "GET /Users/{id}" in listed
    assert "ada@acme.example" not in listed

    started = console.post(f"{page}/rotate", {"step": "start"})
    new = token_on(started.text)
    assert new != token
    done = console.post(f"{page}/rotate", {"step": "complete"})
    assert done.status_code == 303
    assert scim.get("/Users").status_code == 401
    assert Scim(client, scim.connection, token=new).get("/Users").status_code == 200

    refused = console.post(f"{page}/rotate", {"step": "cancel"})
    assert refused.status_code == 400
    assert "scim_connection_not_rotating_token" in refused.text

    gone = console.post(f"{page}/delete", {})
    assert gone.status_code == 303
    assert "Create the SCIM connection" in console.get(page).text


def test_the_organization_page_links_to_scim(
    console: Console, project: Credentials, acme: Organization
) -> None:
    html = console.get(f"/admin/projects/{project.project_id}/orgs/{acme.id}").text
    assert f"/admin/projects/{project.project_id}/orgs/{acme.id}/scim" in html


def test_the_scim_page_keeps_the_console_rules(
    console: Console, project: Credentials, acme: Organization
) -> None:
    from antechamber.headers import PAGE_CSP

    page = f"/admin/projects/{project.project_id}/orgs/{acme.id}/scim"
    without = console.get(page)
    with_token = console.post(page, {"display_name": "Okta", "identity_provider": "okta"})
    with_connection = console.get(page)
    for response in (without, with_token, with_connection):
        assert response.status_code == 200
        assert response.headers["content-security-policy"] == PAGE_CSP
        assert response.headers["cache-control"] == "no-store"
        html = response.text
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", html, re.I)
        for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', html):
            assert f'for="{field_id}"' in html, field_id
        for form in re.findall(r'<form method="post".*?</form>', html, re.S):
            assert 'name="csrf_token"' in form


def test_console_posts_need_the_csrf_token(
    console: Console, project: Credentials, acme: Organization
) -> None:
    page = f"/admin/projects/{project.project_id}/orgs/{acme.id}/scim"
    refused = console.post(page, {"display_name": "Okta"}, csrf="forged")
    assert refused.status_code in (400, 403)
    assert "Create the SCIM connection" in console.get(page).text
