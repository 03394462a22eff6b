"""Every console form needs the session's CSRF token and a same-origin request."""

from __future__ import annotations

import pytest

from antechamber.services import Services
from tests.admin.conftest import BASE, Console
from tests.conftest import Credentials
from tests.factories import make_org


@pytest.fixture
def org_path(services: Services, project: Credentials) -> str:
    org = make_org(services, project.project_id, organization_name="Acme")
    return f"/admin/projects/{project.project_id}/orgs/{org.id}/delete"


def org_exists(console: Console, org_path: str) -> bool:
    return console.get(org_path.removesuffix("/delete")).status_code == 200


@pytest.mark.parametrize(
    ("csrf", "headers"),
    [
        ("", {"Origin": BASE}),  # missing token
        ("0" * 64, {"Origin": BASE}),  # wrong token
        # The right token from another site: security/test_transport_browser.py
        # (test_cross_site_console_forms_are_refused_and_change_nothing).
        (None, {"Sec-Fetch-Site": "cross-site", "Origin": BASE}),
    ],
)
def test_forged_forms_are_refused_and_change_nothing(
    console: Console, org_path: str, csrf: str | None, headers: dict[str, str]
) -> None:
    response = console.post(org_path, csrf=csrf, headers=headers)
    assert response.status_code == 403
    assert "This form cannot be accepted" in response.text
    assert org_exists(console, org_path)


def test_another_sessions_token_is_refused(
    console: Console, org_path: str, services: Services, app: object
) -> None:
    from tests.admin.conftest import signed_in_client
    from tests.factories import make_operator

    other = make_operator(services, "second@antechamber.example", "+12025550124")
    for second in signed_in_client(app, services, other.id):  # type: ignore[arg-type]
        foreign = second.csrf()
    assert foreign != console.csrf()
    assert console.post(org_path, csrf=foreign).status_code == 403
    assert org_exists(console, org_path)


def test_a_good_form_from_the_console_itself_passes(console: Console, org_path: str) -> None:
    response = console.post(org_path)
    assert response.status_code == 303
    assert not org_exists(console, org_path)


def test_non_browser_clients_need_the_token_only(console: Console, org_path: str) -> None:
    # No Origin and no Sec-Fetch-Site: not a browser, so not a forgery vector; token checked.
    assert console.post(org_path, csrf="0" * 64, headers={}).status_code == 403
    assert console.post(org_path, headers={}).status_code == 303


def test_a_get_never_changes_anything(console: Console, org_path: str) -> None:
    # The confirmation page is a GET: it asks, it does not delete.
    page = console.get(org_path)
    assert page.status_code == 200
    assert "Delete Acme?" in page.text
    assert org_exists(console, org_path)
