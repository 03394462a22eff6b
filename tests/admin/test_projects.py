"""Projects in the console: credentials without secrets, create, rotate and revoke."""

from __future__ import annotations

import re

from starlette.testclient import TestClient

from antechamber.audit import service as audit
from antechamber.operators import service as operators
from antechamber.services import Services
from tests.admin.conftest import Console, OperatorInfo
from tests.conftest import Credentials


def last_event(services: Services, event_type: str) -> tuple[str, str | None]:
    with services.sessions() as session:
        event = audit.list_events(session, event_type=event_type, limit=1)[0]
    return event.actor, event.project_id


def shown_secret(html: str) -> str:
    match = re.search(r'id="secret" type="text" value="(secret-[^"]+)"', html)
    assert match, "the page shows the new secret"
    return match.group(1)


def test_the_list_shows_ids_and_last_four_never_a_secret(
    console: Console, project: Credentials
) -> None:
    page = console.get("/admin/projects")
    assert page.status_code == 200
    assert project.project_id in page.text
    assert f"…{project.secret[-4:]}" in page.text
    assert project.secret not in page.text
    assert page.headers["cache-control"] == "no-store"


def test_create_a_project_shows_its_secret_once(
    console: Console, client: TestClient, services: Services, operator: OperatorInfo
) -> None:
    response = console.post("/admin/projects/new", {"name": "Acme prod", "environment": "live"})
    assert response.status_code == 200
    secret = shown_secret(response.text)
    project_id = re.search(r"project-live-[0-9a-f-]{36}", response.text)
    assert project_id
    # It works against the API …
    ok = client.post("/v1/b2b/organizations/search", json={}, auth=(project_id.group(0), secret))
    assert ok.status_code == 200
    # … and is never shown again.
    assert secret not in console.get("/admin/projects").text
    assert secret not in console.get(f"/admin/projects/{project_id.group(0)}").text
    assert last_event(services, "project.created") == (
        f"operator:{operator.member_id}",
        project_id.group(0),
    )


def test_a_bad_project_name_is_shown_on_the_form(console: Console) -> None:
    response = console.post("/admin/projects/new", {"name": "  ", "environment": "test"})
    assert response.status_code == 400
    assert 'id="name-error"' in response.text
    assert "A project name is 1 to 128 characters." in response.text


def test_rotate_then_revoke(
    console: Console, client: TestClient, project: Credentials, services: Services
) -> None:
    pid = project.project_id
    new_secret = shown_secret(console.post(f"/admin/projects/{pid}/secrets").text)
    for secret in (project.secret, new_secret):  # both work until one is revoked
        assert client.post("/v1/b2b/organizations/search", json={}, auth=(pid, secret)).is_success

    page = console.get(f"/admin/projects/{pid}").text
    old_id = re.search(r"secrets/(secret-id-test-[0-9a-f-]{36})/revoke", page)
    assert old_id
    confirm = console.get(f"/admin/projects/{pid}/secrets/{old_id.group(1)}/revoke")
    assert confirm.status_code == 200
    assert "Revoke the secret ending" in confirm.text
    done = console.post(f"/admin/projects/{pid}/secrets/{old_id.group(1)}/revoke")
    assert done.status_code == 303
    assert "revoked" in console.get(done.headers["location"]).text

    assert (
        client.post("/v1/b2b/organizations/search", json={}, auth=(pid, project.secret)).status_code
        == 401
    )
    assert client.post("/v1/b2b/organizations/search", json={}, auth=(pid, new_secret)).is_success
    actor, _ = last_event(services, "project.secret_revoked")
    assert actor.startswith("operator:")


def test_revoking_twice_or_elsewhere_is_not_found(
    console: Console, project: Credentials, other_project: Credentials
) -> None:
    page = console.get(f"/admin/projects/{project.project_id}").text
    secret_id = re.search(r"secrets/(secret-id-test-[0-9a-f-]{36})/revoke", page)
    assert secret_id
    wrong = console.post(
        f"/admin/projects/{other_project.project_id}/secrets/{secret_id.group(1)}/revoke"
    )
    assert wrong.status_code == 404
    assert "Secret could not be found." in wrong.text


def test_the_operators_project_is_not_a_customer_project(
    console: Console, services: Services
) -> None:
    with services.sessions() as session:
        home = operators.find_home(session)
    assert home is not None
    listing = console.get("/admin/projects").text
    assert "Console operators" in listing
    assert home.project_id in listing  # only as the link to its audit log
    for path in (f"/admin/projects/{home.project_id}", f"/admin/projects/{home.project_id}/orgs"):
        assert console.get(path).status_code == 404
    assert console.post(f"/admin/projects/{home.project_id}/secrets").status_code == 404
    # Its audit log (operator sign-ins) is readable.
    log = console.get(f"/admin/projects/{home.project_id}/audit")
    assert log.status_code == 200
    assert "console.signed_in" in log.text


def test_an_unknown_project_is_a_console_404(console: Console) -> None:
    response = console.get("/admin/projects/project-test-nope/orgs")
    assert response.status_code == 404
    assert "Project could not be found." in response.text
    assert response.headers["content-type"].startswith("text/html")


def test_redirect_urls_add_make_default_and_remove(
    console: Console, project: Credentials, services: Services, operator: OperatorInfo
) -> None:
    page = f"/admin/projects/{project.project_id}"
    first = "https://app.example.com/authenticate"
    second = "https://app.example.com/other"
    for url in (first, second):
        done = console.post(f"{page}/redirect-urls", {"url": url})
        assert done.status_code == 303
    html = console.get(page).text
    assert f"Redirect URL {second} allowed." in html
    assert first in html
    assert second in html
    assert last_event(services, "redirect_url.added") == (
        f"operator:{operator.member_id}",
        project.project_id,
    )

    made = console.post(f"{page}/redirect-urls", {"url": second, "default": "true"})
    assert made.status_code == 303
    assert last_event(services, "redirect_url.default_set")[0] == f"operator:{operator.member_id}"
    with services.scope(project.project_id, "test", "test") as scope:
        from antechamber.redirects import service as redirects

        defaults = [r.url for r in redirects.list_redirect_urls(scope) if r.is_default]
    assert defaults == [second]

    bad = console.post(f"{page}/redirect-urls", {"url": "javascript:alert(1)"})
    assert bad.status_code == 400
    assert 'id="url-error"' in bad.text
    assert 'value="javascript:alert(1)"' in bad.text

    removed = console.post(f"{page}/redirect-urls/remove", {"url": first})
    assert removed.status_code == 303
    html = console.get(page).text
    assert f"Redirect URL {first} removed." in html
    assert last_event(services, "redirect_url.removed")[0] == f"operator:{operator.member_id}"
    missing = console.post(f"{page}/redirect-urls/remove", {"url": first})
    assert missing.status_code == 404


def test_rotate_the_signing_key(
    console: Console, project: Credentials, services: Services, operator: OperatorInfo
) -> None:
    page = f"/admin/projects/{project.project_id}"
    before = console.get(page).text
    kids = re.findall(r"<code>(jwk-[^<]+)</code>", before)
    assert len(kids) == 1
    done = console.post(f"{page}/keys/rotate")
    assert done.status_code == 303
    after = console.get(page).text
    assert "Now signing with" in after
    assert kids[0] in after
    assert "Retired" in after
    assert "PRIVATE KEY" not in after
    assert last_event(services, "signing_key.retired") == (
        f"operator:{operator.member_id}",
        project.project_id,
    )
    assert console.post(f"{page}/keys/rotate", csrf="forged").status_code == 403
