"""Transport and browser rules (research §1.3 cookies, §1.5 Referer, §1.6 CSRF; ASVS 3.3, 3.4,
3.5, 7.6.2, 14.2.1) for what a browser sees of this server: the reference app's pages (served
in-process at /), the admin console (/admin), the development inbox, and the API's answers.

Each case runs in development mode (plain http, `antechamber dev`) and outside it (https), and
asserts what the browser is told (status, headers, cookie attributes) and, for every refused or
merely looked-at request, that the database did not change.

Suites that cover the same rules elsewhere, kept there because they run the reference app over
both backends (in-process and the standalone app on the official SDK):
`webapp/test_security.py::test_cookies_are_host_prefixed_and_secure`,
`webapp/test_flaws.py::test_16_cross_site_posts_are_refused`,
`test_17_cookie_attributes_in_development`,
`webapp/test_pages.py::test_the_callback_page_does_not_redeem_the_link`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.testclient import TestClient

from antechamber import db
from antechamber.admin import security
from antechamber.app import create_app
from antechamber.clock import FrozenClock
from antechamber.delivery import outbox
from antechamber.devmode import ensure_demo_project
from antechamber.organizations.models import Organization
from antechamber.projects import service as projects
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials
from tests.cookiejar import replace_cookie
from tests.factories import (
    allow_redirect,
    last_code,
    make_member,
    make_operator,
    make_org,
    open_console_session,
)
from tests.snapshots import unchanged
from tests.webapp.conftest import Web, cookie_attributes

SECURE_BASE = "https://auth.example"
PLAIN_BASE = "http://testserver"
OPERATOR_PHONE = "+12025550123"  # make_operator's
FOREIGN = "https://evil.example"
CROSS_SITE: list[dict[str, str]] = [
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site", "Origin": "https://sub.auth.example"},
    {"Origin": FOREIGN},
    {"Origin": "null"},  # an opaque origin without fetch metadata
    {"Sec-Fetch-Site": "cross-site", "Origin": FOREIGN},
]


@dataclass
class Server:
    """This server as a browser meets it, in one mode."""

    production: bool
    base: str
    app: FastAPI
    services: Services
    project: Credentials
    operator_email: str
    operator_id: str

    @property
    def same_origin(self) -> dict[str, str]:
        return {"Origin": self.base, "Sec-Fetch-Site": "same-origin"}

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=self.base, raise_server_exceptions=False)

    def web(self, client: TestClient) -> Web:
        return Web(client, self.services, self.project, "inprocess", self.app)

    def console(self, client: TestClient) -> TestClient:
        """`client` with a console session (made through the sign-in's seam)."""
        replace_cookie(
            client,
            security.session_cookie_name(self.services.settings),
            open_console_session(self.services, self.operator_id),
            path="/admin",
        )
        return client


@pytest.fixture(params=["development", "production"])
def server(
    request: pytest.FixtureRequest, settings: Settings, engine: Engine, clock: FrozenClock
) -> Server:
    production = request.param == "production"
    base = SECURE_BASE if production else PLAIN_BASE
    chosen = settings.model_copy(update={"dev": not production, "public_base_url": base})
    services = Services.build(chosen, engine, clock)
    if production:
        with db.transaction(services.sessions) as session:
            made, issued = projects.create_project(
                session,
                name="Production",
                environment="live",
                actor="test",
                clock=clock,
                settings=chosen,
            )
        project = Credentials(made.id, issued.secret)
        allow_redirect(services, project.project_id, f"{base}/auth/callback")
        chosen = chosen.model_copy(update={"webapp_project_id": project.project_id})
        services = Services.build(chosen, engine, clock)
    else:
        demo = ensure_demo_project(services)
        project = Credentials(demo.project_id, demo.secret)
    operator = make_operator(services)
    app = create_app(chosen, engine=engine, clock=clock)
    return Server(production, base, app, services, project, operator.email_address, operator.id)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def ask_for_console_link(server: Server, client: TestClient, next_: str = "") -> httpx.Response:
    """Ask for the operator's sign-in link in `client`; the page that says it was sent."""
    form = client.get("/admin/signin")
    sent = client.post(
        "/admin/signin",
        data={"email": server.operator_email, "next": next_, "csrf_token": csrf_of(form.text)},
        headers=server.same_origin,
    )
    assert "Check your email" in sent.text
    return sent


def console_link(server: Server, client: TestClient) -> str:
    """Ask for the operator's sign-in link in `client`; the token from the email."""
    ask_for_console_link(server, client)
    return console_token(server)


def console_token(server: Server) -> str:
    """The token of the newest sign-in link sent to the operator."""
    with server.services.sessions() as session:
        message = outbox.recent(session, recipient=server.operator_email)[0]
        url = outbox.context_of(message, server.services.settings.key_bytes())["url"]
    assert url.startswith(f"{server.base}/admin/signin/callback?")
    return str(parse_qs(urlsplit(url).query)["token"][0])


# -- Headers --------------------------------------------------------------------------------


def assert_page_headers(response: httpx.Response, production: bool) -> None:
    h = response.headers
    where = f"{response.request.method} {response.request.url.path}"
    assert h["content-type"].startswith("text/html"), where
    csp = h["content-security-policy"]
    directives = dict([*d.strip().split(" ", 1), ""][:2] for d in csp.split(";") if d.strip())
    assert directives["frame-ancestors"] == "'none'", where
    assert directives["default-src"] in ("'self'", "'none'"), where
    assert "'unsafe-inline'" not in directives.get("script-src", ""), where
    assert directives.get("object-src", directives["default-src"]) == "'none'", where
    assert h["x-content-type-options"] == "nosniff", where
    assert h["x-frame-options"] == "DENY", where
    assert h["referrer-policy"] in ("no-referrer", "same-origin"), where  # never to another site
    if production:
        assert h["strict-transport-security"] == "max-age=31536000; includeSubDomains", where
    else:
        assert "strict-transport-security" not in h, where


def visited_pages(server: Server) -> Iterator[httpx.Response]:
    """Every kind of HTML page: the app's and the console's, anonymous and signed in, errors."""
    with server.client() as c:
        yield c.get("/")
        yield c.get("/auth/callback", params={"stytch_token_type": "discovery", "token": "x"})
        yield c.get("/auth/callback")  # 400: not a sign-in link
        yield c.get("/no/such/page")  # 404
        yield c.get("/admin/signin")
        yield c.get("/admin/signin/callback", params={"token": "x"})
        yield c.get("/dev/outbox") if not server.production else c.get("/admin/signin?next=x")
    with server.client() as c:
        web = server.web(c)
        org = make_org(server.services, server.project.project_id, organization_name="Acme")
        make_member(server.services, server.project.project_id, org, email_address="a@acme.example")
        web.discover("a@acme.example")
        yield web.get("/discovery")
        web.select(org.id)
        yield web.get("/dashboard")
        setup = web.form("/dashboard/totp", headers=server.same_origin)
        assert setup.status_code == 200
        yield setup  # the authenticator app's secret and QR code
        yield web.form(
            "/dashboard/totp/confirm",
            {"setup": sealed_setup(setup.text), "code": "12345"},
            headers=server.same_origin,
        )  # 400: the setup again, with the reason
    with server.client() as c:
        web = server.web(c)
        web.create("founder@hooli.example", "Hooli", require_mfa=True)
        yield web.get("/smsmfa")
    with server.console(server.client()) as c:
        pid = server.project.project_id
        yield c.get("/admin/projects")
        yield c.get(f"/admin/projects/{pid}/orgs/new")
        yield c.get(f"/admin/projects/{pid}/audit")
        yield c.get(f"/admin/projects/{pid}/orgs/org-test-nope")  # the console's 404 page
        yield c.post(f"/admin/projects/{pid}/orgs/new", data={"csrf_token": "0" * 64})  # 403


def test_every_page_sends_the_browser_headers(server: Server) -> None:
    pages = list(visited_pages(server))
    assert {p.status_code for p in pages} >= {200, 400, 403, 404}
    for page in pages:
        assert_page_headers(page, server.production)


def test_other_answers_are_nosniff_and_hsts_only_outside_development(server: Server) -> None:
    with server.client() as c:
        answers = [
            c.post("/v1/b2b/organizations/search", json={}, auth=server.project.auth),
            c.get("/v1/b2b/nowhere", auth=server.project.auth),
            c.post("/api/discovery/get-organization", headers=server.same_origin),
            c.get("/assets/app.css"),
            c.get("/assets/app.js"),
            c.get("/admin/static/console.css"),
            c.get("/healthz"),
        ]
    for answer in answers:
        h = answer.headers
        where = answer.request.url.path
        assert h["x-content-type-options"] == "nosniff", where
        assert "frame-ancestors 'none'" in h["content-security-policy"], where
        assert ("strict-transport-security" in h) is server.production, where
        if where.startswith("/v1/"):
            assert h["cache-control"] == "no-store"
            assert h["referrer-policy"] == "no-referrer"  # answers may carry tokens
            assert h["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"


def test_pages_whose_address_carries_a_token_send_no_referrer(server: Server) -> None:
    """The magic-link landing pages (the token is in their URL) and the development inbox
    (links and codes on the page) never send a Referer, not even to this origin."""
    with server.client() as c:
        pages = [
            c.get("/admin/signin/callback", params={"token": "t" * 44}),
            c.get("/auth/callback", params={"stytch_token_type": "discovery", "token": "t" * 44}),
        ]
        if not server.production:
            pages.append(c.get("/dev/outbox"))
    for page in pages:
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer", page.request.url.path


def sealed_setup(html: str) -> str:
    match = re.search(r'name="setup" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_pages_showing_an_authenticator_secret_or_codes_are_private(server: Server) -> None:
    """The authenticator app's setup (its secret) and the recovery codes: never cached, never
    a Referer, the secret in no address; reached only by POST (the secret is not in a URL
    even for a moment)."""
    with server.client() as c:
        web = server.web(c)
        org = make_org(server.services, server.project.project_id, organization_name="Keys")
        make_member(server.services, server.project.project_id, org, email_address="k@keys.example")
        web.discover("k@keys.example")
        web.select(org.id)
        setup = web.form("/dashboard/totp", headers=server.same_origin)
        secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', setup.text)
        assert secret
        key = secret.group(1).replace(" ", "")
        code = pyotp.TOTP(key).at(server.services.clock.now())
        codes = web.form(
            "/dashboard/totp/confirm",
            {"setup": sealed_setup(setup.text), "code": code},
            headers=server.same_origin,
        )
        assert "Save your recovery codes" in codes.text
        for page in (setup, codes):
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["referrer-policy"] == "no-referrer"
            assert key not in str(page.url)
            assert_page_headers(page, server.production)
        assert c.get("/dashboard/totp").status_code in (404, 405)


def test_the_sms_steps_carry_no_token_in_their_address(server: Server) -> None:
    """After the link, the pending login lives in a sealed cookie: the SMS pages' URLs and
    bodies hold no token, so their same-origin Referer leaks nothing (and gives form posts a
    real Origin)."""
    with server.client() as c:
        token = console_link(server, c)
        code_page = c.post(
            "/admin/signin/callback",
            data={"token": token, "csrf_token": csrf_of(c.get("/admin/signin").text)},
            headers=server.same_origin,
        )
        assert "Enter your code" in code_page.text
        assert code_page.url.query == b""
        assert token not in code_page.text
        assert code_page.headers["referrer-policy"] in ("no-referrer", "same-origin")
    with server.client() as c:
        web = server.web(c)
        web.create("founder@hooli.example", "Hooli", require_mfa=True)
        sms = web.get("/smsmfa")
        assert sms.status_code == 200
        assert sms.url.query == b""
        assert web.pending() is not None
        pending = web.pending()
        assert pending is not None
        assert pending.ist not in sms.text
        assert sms.headers["referrer-policy"] in ("no-referrer", "same-origin")


# -- Cookies --------------------------------------------------------------------------------


def test_console_cookies_through_a_real_sign_in(server: Server) -> None:
    """Pre-session (Lax: the link arrives from a mail client), the page to return to, the
    pending sign-in and the session (Strict): HttpOnly always; Secure with the `__Secure-`
    prefix outside development (not `__Host-`: that would widen Path to /, and the console's
    cookies stay under /admin)."""
    with server.client() as c:
        first = c.get("/admin/signin")
        sent = ask_for_console_link(server, c, next_="/admin/projects?shown=all")
        token = console_token(server)
        code_page = c.post(
            "/admin/signin/callback",
            data={"token": token, "csrf_token": csrf_of(first.text)},
            headers=server.same_origin,
        )
        done = c.post(
            "/admin/signin/code",
            data={
                "code": last_code(server.services, OPERATOR_PHONE),
                "csrf_token": csrf_of(code_page.text),
            },
            headers=server.same_origin,
            follow_redirects=False,
        )
        assert done.status_code == 303
        prefix = "__Secure-" if server.production else ""
        found = {
            "pre": cookie_attributes(first, f"{prefix}antechamber_console_pre"),
            "next": cookie_attributes(sent, f"{prefix}antechamber_console_next"),
            "pending": cookie_attributes(code_page, f"{prefix}antechamber_console_signin"),
            "session": cookie_attributes(done, f"{prefix}antechamber_console"),
        }
        expected = {
            "pre": ("lax", "/admin"),
            "next": ("strict", "/admin/signin"),
            "pending": ("strict", "/admin/signin"),
            "session": ("strict", "/admin"),
        }
        for name, attrs in found.items():
            assert "httponly" in attrs, name
            assert ("secure" in attrs) is server.production, name
            assert (attrs["samesite"].lower(), attrs["path"]) == expected[name], name
            assert "domain" not in attrs, name
        assert "max-age" not in found["session"]  # dies with the browser; the server times it
        assert int(found["pending"]["max-age"]) <= 600
        assert int(found["next"]["max-age"]) <= 600
        # Both sign-in cookies end with the sign-in.
        for name in ("antechamber_console_next", "antechamber_console_signin"):
            assert int(cookie_attributes(done, prefix + name)["max-age"]) == 0, name
        # The session token is only ever in Set-Cookie, never in a page or a URL.
        assert found["session"]["value"] not in done.text
        assert found["session"]["value"] not in done.headers["location"]


def test_the_apps_cookies_fit_in_a_browser(server: Server) -> None:
    """ASVS 3.3.5: name and value within 4096 bytes, or a browser drops the cookie silently.
    The session cookie holds the session JWT (the app asks for no custom claims); a member
    with a long address, a long organization slug and MFA makes the biggest one we issue."""
    long_email = "a" * 60 + "@" + "b" * 60 + ".example"
    org = make_org(
        server.services,
        server.project.project_id,
        organization_name="Acme",
        organization_slug="s" * 128,
    )
    make_member(server.services, server.project.project_id, org, email_address=long_email)
    with server.client() as c:
        web = server.web(c)
        web.discover(long_email)
        selected = web.select(org.id)
        assert selected.status_code == 200
        prefix = "__Host-" if server.production else ""
        for base in ("login_hint", "session"):
            value = web.cookie(base)
            assert value is not None, base
            assert len(prefix + base) + len(value) <= 4096, (base, len(value))


# -- Cross-site requests --------------------------------------------------------------------


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_console_forms_are_refused_and_change_nothing(
    server: Server, engine: Engine, headers: dict[str, str]
) -> None:
    """With the right CSRF token and a live session: still refused when another site sent it.
    That includes the sign-in form itself (login CSRF) and the link's Continue."""
    org = make_org(server.services, server.project.project_id, organization_name="Acme")
    pid = server.project.project_id
    with server.client() as anonymous:
        token = console_link(server, anonymous)
        pre = csrf_of(anonymous.get("/admin/signin").text)
        with server.console(server.client()) as c:
            csrf = csrf_of(c.get(f"/admin/projects/{pid}/orgs/{org.id}/delete").text)
            with unchanged(engine):
                answers = [
                    c.post(
                        f"/admin/projects/{pid}/orgs/{org.id}/delete",
                        data={"csrf_token": csrf},
                        headers=headers,
                    ),
                    c.post(
                        f"/admin/projects/{pid}/orgs/new",
                        data={"csrf_token": csrf, "organization_name": "Forged"},
                        headers=headers,
                    ),
                    anonymous.post(
                        "/admin/signin",
                        data={"csrf_token": pre, "email": server.operator_email},
                        headers=headers,
                    ),
                    anonymous.post(
                        "/admin/signin/callback",
                        data={"csrf_token": pre, "token": token},
                        headers=headers,
                    ),
                    anonymous.post(
                        "/admin/signin/code",
                        data={"csrf_token": pre, "code": "123456"},
                        headers=headers,
                    ),
                ]
            for answer in answers:
                assert answer.status_code == 403, answer.request.url.path
                assert "This form cannot be accepted" in answer.text
            # The same forms from the console itself go through.
            assert (
                c.post(
                    f"/admin/projects/{pid}/orgs/{org.id}/delete",
                    data={"csrf_token": csrf},
                    headers=server.same_origin,
                    follow_redirects=False,
                ).status_code
                == 303
            )
        with server.services.sessions() as session:
            assert session.get(Organization, org.id) is None


@pytest.mark.parametrize("headers", CROSS_SITE)
def test_cross_site_app_posts_are_refused_and_change_nothing(
    server: Server, engine: Engine, headers: dict[str, str]
) -> None:
    """The reference app: JSON and plain-form posts that another site started (sending a
    sign-in email, redeeming a link, signing out) are refused, 403 `cross_site`."""
    org = make_org(server.services, server.project.project_id, organization_name="Acme")
    make_member(server.services, server.project.project_id, org, email_address="a@acme.example")
    with server.client() as c:
        web = server.web(c)
        token = web.email_link("a@acme.example")
        with unchanged(engine):
            answers: list[tuple[httpx.Response, Any]] = [
                (
                    web.post("/api/discovery/start", {"email": "a@acme.example"}, headers=headers),
                    403,
                ),
                (web.post("/api/auth/callback", {"token": token}, headers=headers), 403),
                (
                    web.form("/api/discovery/start", {"email": "a@acme.example"}, headers=headers),
                    303,
                ),
            ]
        for answer, status in answers:
            assert answer.status_code == status
            if status == 403:
                assert answer.json()["error"] == "cross_site"
            else:  # a form post comes back to the page, which says why
                assert answer.headers["location"].endswith("error=cross_site")
        assert (
            web.post("/api/auth/callback", {"token": token}, headers=server.same_origin).status_code
            == 200
        )


# -- A GET never redeems --------------------------------------------------------------------


def test_opening_a_sign_in_link_redeems_nothing(server: Server, engine: Engine) -> None:
    """Mail scanners follow links: the landing pages of the console and of the app only ask
    for a click; however often they are fetched, the database is untouched and the link still
    works for the person (ASVS 7.6.2)."""
    org = make_org(server.services, server.project.project_id, organization_name="Acme")
    make_member(server.services, server.project.project_id, org, email_address="a@acme.example")
    with server.client() as c:
        web = server.web(c)
        app_token = web.email_link("a@acme.example")
        console_token = console_link(server, c)
        with unchanged(engine):
            for _ in range(3):
                app_page = c.get(
                    "/auth/callback", params={"stytch_token_type": "discovery", "token": app_token}
                )
                console_page = c.get("/admin/signin/callback", params={"token": console_token})
                assert app_page.status_code == console_page.status_code == 200
                assert "Continue" in app_page.text
                assert "Continue signing in" in console_page.text
        assert web.post("/api/auth/callback", {"token": app_token}).status_code == 200
        code_page = c.post(
            "/admin/signin/callback",
            data={"token": console_token, "csrf_token": csrf_of(console_page.text)},
            headers=server.same_origin,
        )
        assert "Enter your code" in code_page.text
