"""What every console page is: HTML under the strict CSP (no inline style or script),
uncached, labelled forms; and the sign-in page with its own CSRF protection."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from starlette.responses import Response
from starlette.testclient import TestClient

from antechamber.admin import security, signin
from antechamber.admin.routes import projects as project_routes
from antechamber.headers import PAGE_CSP
from antechamber.operators.sessions import IssuedConsoleSession
from antechamber.services import Services
from antechamber.settings import Settings
from tests.admin.conftest import ORIGIN, Console
from tests.conftest import Credentials
from tests.factories import make_member, make_org

TEMPLATES = Path(security.__file__).parent / "templates"


def pages(project: Credentials, services: Services) -> list[str]:
    pid = project.project_id
    org = make_org(services, pid, organization_name="Acme")
    member = make_member(services, pid, org)
    base = f"/admin/projects/{pid}/orgs/{org.id}"
    return [
        "/admin/projects",
        "/admin/projects/new",
        f"/admin/projects/{pid}",
        f"/admin/projects/{pid}/orgs",
        f"/admin/projects/{pid}/orgs/new",
        f"/admin/projects/{pid}/audit",
        base,
        f"{base}/edit",
        f"{base}/delete",
        f"{base}/members/new",
        f"{base}/members/{member.id}",
        f"{base}/members/{member.id}/reset-phone",
        f"{base}/members/{member.id}/delete",
    ]


def test_every_page_is_strict_csp_html(
    console: Console, project: Credentials, services: Services
) -> None:
    for path in pages(project, services):
        response = console.get(path, follow_redirects=False)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["content-security-policy"] == PAGE_CSP
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "same-origin"
        html = response.text
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", html, re.I), path
        # Every form field has a label, and every state-changing form a CSRF token.
        for field_id in re.findall(r'<(?:input|select|textarea)[^>]*\sid="([^"]+)"', html):
            assert f'for="{field_id}"' in html, (path, field_id)
        for form in re.findall(r'<form method="post".*?</form>', html, re.S):
            assert 'name="csrf_token"' in form, path


def test_templates_never_use_inline_styles_or_scripts() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script|<style|\sstyle=|\son[a-z]+=", text, re.I), template


def test_the_stylesheet(anonymous: TestClient) -> None:
    response = anonymous.get("/admin/static/console.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert ":focus-visible" in response.text


def test_the_sign_in_page_sets_a_pre_session_for_its_form(
    anonymous: TestClient, services: Services
) -> None:
    page = anonymous.get("/admin/signin", params={"next": "/admin/projects/p"})
    assert page.status_code == 200
    cookie = page.headers["set-cookie"]
    assert cookie.startswith(security.pre_session_cookie_name(services.settings) + "=")
    for flag in ("HttpOnly", "Path=/admin", "SameSite=lax", "Secure", "Max-Age=3600"):
        assert flag in cookie
    assert 'name="next" value="/admin/projects/p"' in page.text
    hostile = anonymous.get("/admin/signin", params={"next": "https://evil.example/"})
    assert 'name="next" value="/admin/projects"' in hostile.text


def test_sign_in_before_any_operator_exists_says_what_to_do(anonymous: TestClient) -> None:
    page = anonymous.get("/admin/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    response = anonymous.post(
        "/admin/signin",
        data={"csrf_token": token.group(1), "email": "ops@antechamber.example"},
        headers=ORIGIN,
    )
    assert response.status_code == 503
    assert "antechamber operators add" in response.text
    assert 'value="ops@antechamber.example"' in response.text


def test_the_sign_in_form_needs_its_token(anonymous: TestClient) -> None:
    anonymous.get("/admin/signin")
    refused = anonymous.post(
        "/admin/signin", data={"csrf_token": "0" * 64, "email": "a@b.example"}, headers=ORIGIN
    )
    assert refused.status_code == 403


@pytest.mark.parametrize("dev", [False, True])
def test_admit_sets_a_strict_console_cookie(dev: bool, tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        dev=dev,  # type: ignore[call-arg]
        state_dir=tmp_path,
        _env_file=None,  # type: ignore[call-arg]
    )
    response = Response()
    issued = IssuedConsoleSession(
        "console-session-x", "t" * 43, datetime.now(UTC) + timedelta(hours=1)
    )
    signin.admit(response, issued, settings)
    cookies = response.headers.getlist("set-cookie")
    session = next(c for c in cookies if c.startswith(security.session_cookie_name(settings)))
    assert session.startswith("antechamber_console=" if dev else "__Secure-antechamber_console=")
    for flag in ("HttpOnly", "Path=/admin", "SameSite=strict"):
        assert flag in session
    assert ("Secure" in session) is not dev
    assert "Max-Age" not in session
    assert "expires" not in session.lower()
    assert any("antechamber_console_pre" in c and "Max-Age=0" in c for c in cookies)


def test_an_unexpected_failure_is_a_page_not_a_traceback(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(project_routes.projects, "list_projects", broken)
    response = console.get("/admin/projects")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_oversized_forms_are_refused_before_parsing(anonymous: TestClient) -> None:
    page = anonymous.get("/admin/signin")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    huge = {"csrf_token": token.group(1), "email": "a" * 200_000}
    response = anonymous.post("/admin/signin", data=huge, headers=ORIGIN)
    assert response.status_code == 413
    assert "Traceback" not in response.text
