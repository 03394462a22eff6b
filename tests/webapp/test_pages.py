"""The pages: what each shows, that they work as plain HTML forms (no JavaScript), and the
accessibility and hygiene rules every page keeps (seed-app.md §4 items 22–25, §6)."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials
from tests.cookiejar import replace_cookie
from tests.factories import make_member
from tests.webapp.conftest import Web


class Markup(HTMLParser):
    """Collects what the accessibility checks need from a page."""

    def __init__(self) -> None:
        super().__init__()
        self.inputs: list[dict[str, str | None]] = []
        self.labels: set[str] = set()
        self.inline_styles = 0
        self.inline_scripts = 0
        self.clickables: list[str] = []
        self.html_lang: str | None = None
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "input" and a.get("type") != "hidden":
            self.inputs.append(a)
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if "style" in a or tag == "style":
            self.inline_styles += 1
        if tag == "script" and not a.get("src"):
            self.inline_scripts += 1
        if any(k.startswith("on") for k in a):
            self.inline_scripts += 1
        if tag in ("span", "p", "div") and ("onclick" in a or a.get("role") == "button"):
            self.clickables.append(tag)


def check_page(html: str) -> Markup:
    markup = Markup()
    markup.feed(html)
    assert markup.html_lang == "en"
    assert markup.inline_styles == 0  # the CSP allows none
    assert markup.inline_scripts == 0
    assert markup.clickables == []  # actions are buttons and links
    for field in markup.inputs:
        assert field.get("id") in markup.labels, f"input without a label: {field}"
    return markup


def test_sign_in_page(inprocess: Web) -> None:
    page = inprocess.get("/")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    markup = check_page(page.text)
    email, sso_organization = markup.inputs  # the second: Sign in with SSO (webapp/sso.py)
    assert sso_organization["name"] == "organization"
    assert email["type"] == "email"
    assert email["autocomplete"] == "email"
    assert 'action="/api/discovery/start"' in page.text
    assert 'href="/dev/outbox"' in page.text  # development mode links the inbox
    assert '<script src="/assets/app.js" defer>' in page.text


def test_messages_on_pages_come_from_codes_never_from_the_url(inprocess: Web) -> None:
    known = inprocess.get("/?error=link_expired").text
    assert "This sign-in link has expired or was already used" in known
    assert 'role="alert"' in known
    injected = inprocess.get("/?error=%3Cscript%3Ealert(1)%3C/script%3E&info=Hacked").text
    assert "<script>alert" not in injected
    assert "Hacked" not in injected
    assert 'role="alert"' not in injected


def test_the_whole_login_works_as_plain_html_forms(
    inprocess: Web, acme: Organization, ada: Member
) -> None:
    start = inprocess.form("/api/discovery/start", {"email": "ada@acme.example"})
    assert start.status_code == 303
    assert start.headers["location"] == "/check-email"
    check = inprocess.get("/check-email")
    assert "ada@acme.example" in check.text
    check_page(check.text)

    token = inprocess.link_token("ada@acme.example")
    landing = inprocess.get(f"/auth/callback?stytch_token_type=discovery&token={token}")
    assert landing.status_code == 200
    assert landing.headers["referrer-policy"] == "no-referrer"
    assert f'value="{token}"' in landing.text
    check_page(landing.text)

    posted = inprocess.form(
        "/api/auth/callback", {"token": token, "stytch_token_type": "discovery"}
    )
    assert posted.status_code == 303
    assert posted.headers["location"] == "/discovery"
    discovery = inprocess.get("/discovery")
    assert discovery.status_code == 200
    markup = check_page(discovery.text)
    assert "Continue to Acme" in discovery.text
    switch = next(i for i in markup.inputs if i.get("name") == "requireMfa")
    assert switch["type"] == "checkbox"
    assert switch["role"] == "switch"

    selected = inprocess.form("/api/discovery/select-organization", {"organizationId": acme.id})
    assert selected.headers["location"] == "/dashboard"
    dashboard = inprocess.get("/dashboard")
    assert dashboard.status_code == 200
    check_page(dashboard.text)
    assert "MFA is optional in Acme" in dashboard.text
    assert 'href="/dashboard/mfa?optIn=true"' in dashboard.text

    confirm = inprocess.get("/dashboard/mfa?optIn=true")
    assert "Opt in for MFA?" in confirm.text
    done = inprocess.form("/api/mfa/update", {"mfaOptIn": "true"})
    assert done.headers["location"] == "/dashboard?info=mfa_on"
    assert "MFA is on." in inprocess.get("/dashboard?info=mfa_on").text

    out = inprocess.form("/api/auth/logout")
    assert out.headers["location"] == "/?info=signed_out"
    assert inprocess.get("/dashboard").headers["location"] == "/?error=not_signed_in"


def test_the_callback_page_does_not_redeem_the_link(
    web: Web, acme: Organization, ada: Member
) -> None:
    """A mail scanner's GET (even several) leaves the link working for the person."""
    token = web.email_link("ada@acme.example")
    for _ in range(3):
        assert (
            web.get(f"/auth/callback?stytch_token_type=discovery&token={token}").status_code == 200
        )
    assert web.post("/api/auth/callback", {"token": token}).status_code == 200


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("stytch_token_type=oauth&token=abc", "isn't a sign-in link"),
        ("stytch_token_type=discovery", "isn't valid"),
        ("", "isn't a sign-in link"),
    ],
)
def test_the_callback_page_explains_links_it_cannot_use(
    inprocess: Web, query: str, words: str
) -> None:
    page = inprocess.get(f"/auth/callback?{query}")
    assert page.status_code == 400
    assert words in html.unescape(page.text)
    assert 'href="/"' in page.text


def test_form_errors_come_back_to_the_page(inprocess: Web, acme: Organization, ada: Member) -> None:
    bad = inprocess.form("/api/discovery/start", {"email": "nope"})
    assert bad.headers["location"] == "/?error=invalid_email"
    inprocess.discover("ada@acme.example")
    short = inprocess.form("/api/discovery/create", {"organizationName": "ab"})
    assert short.headers["location"] == "/discovery?error=invalid_organization_name"
    assert "3 to 128 characters" in inprocess.get(short.headers["location"]).text


def test_the_sms_page(inprocess: Web) -> None:
    inprocess.create("founder@hooli.example", "Hooli", require_mfa=True)
    page = inprocess.get("/smsmfa")
    assert page.status_code == 200
    markup = check_page(page.text)
    [phone] = markup.inputs
    assert phone["type"] == "tel"
    assert phone["autocomplete"] == "tel"
    assert "+1 202 555 0123" in page.text  # E.164 help
    assert "Hooli asks for a second step" in page.text
    assert "phone-help" in str(phone["aria-describedby"])


def test_the_sms_code_form(inprocess: Web) -> None:
    """After a code was sent: the code field with the attributes phones autofill from."""
    from antechamber.webapp import cookies

    inprocess.create("founder@hooli.example", "Hooli", require_mfa=True)
    pending = inprocess.pending()
    assert pending is not None
    config = inprocess.client.app.state.webapp.config  # type: ignore[attr-defined]
    now = int(config.clock.now().timestamp())
    sent = pending.sent(now, "+1******0143")
    replace_cookie(inprocess.client, "intermediate_session", cookies.encode_pending(config, sent))
    page = inprocess.get("/smsmfa?sent=true")
    markup = check_page(page.text)
    [code] = markup.inputs
    assert code["autocomplete"] == "one-time-code"
    assert code["inputmode"] == "numeric"
    assert code["maxlength"] == "6"
    assert "+1******0143" in page.text
    assert 'data-cooldown="30"' in page.text
    assert "Use a different number" in page.text
    early = inprocess.post("/api/mfa/send", {})
    assert early.status_code == 429
    assert early.json()["retryAfter"] == 30
    assert early.headers["Retry-After"] == "30"


def test_dashboard_says_the_policy_in_words(
    web: Web, services: Services, project: Credentials, acme: Organization
) -> None:
    make_member(
        services,
        project.project_id,
        acme,
        email_address="root@acme.example",
        roles=["stytch_admin"],
    )
    web.login("root@acme.example", acme.id)
    page = web.get("/dashboard").text
    assert "MFA is optional in Acme" in page
    assert "Signing in needs only the link we email you." in page
    assert "Admin" in page
    assert re.search(r"<code>acme</code>", page)


def test_static_assets(inprocess: Web) -> None:
    css = inprocess.get("/assets/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    js = inprocess.get("/assets/app.js")
    assert js.headers["content-type"].startswith("text/javascript")
    assert inprocess.get("/assets/../../etc/passwd").status_code == 404
    assert inprocess.get("/assets/nope.js").status_code == 404


# The security headers of every page (CSP, nosniff, framing, Referrer-Policy, HSTS):
# security/test_transport_browser.py::test_every_page_sends_the_browser_headers.
