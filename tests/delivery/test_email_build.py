"""An email as a mail client reads it back: every header and both bodies, whatever the locale,
the sender's name or the body's lines."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import cast

from aiosmtplib.email import flatten_message

from antechamber.delivery import messages
from antechamber.delivery.email import build_email
from antechamber.delivery.messages import Rendered
from antechamber.settings import Settings

URL = "https://app.acme.example/authenticate?stytch_token_type=discovery&token=" + "t" * 44


def settings_(sender: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        public_base_url="https://auth.acme.example",
        smtp_host="mail.acme.example",
        smtp_from=sender,
    )


def read_back(rendered: Rendered, settings: Settings) -> EmailMessage:
    """Built, flattened as the SMTP client sends it, and parsed as a mail client would."""
    built = build_email(
        rendered,
        to="ada@acme.example",
        message_id="msg-1",
        settings=settings,
        now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    wire = flatten_message(built)
    assert wire.isascii()  # passes any relay, 8BITMIME or not
    return cast(EmailMessage, message_from_bytes(wire, policy=policy.default))


def bodies(email: EmailMessage) -> tuple[str, str]:
    text, html = email.get_body(("plain",)), email.get_body(("html",))
    assert text is not None
    assert html is not None
    return str(text.get_content()), str(html.get_content())


def test_a_french_email_from_a_named_sender_reads_back_whole() -> None:
    settings = settings_("Équipe Acmé <login@acme.example>")
    rendered = messages.render(
        "discovery_magic_link",
        {"url": URL, "expiration_minutes": 15},
        locale="fr",
        settings=settings,
    )
    assert rendered.subject is not None
    assert not rendered.subject.isascii()

    email = read_back(rendered, settings)
    assert email["From"] == "Équipe Acmé <login@acme.example>"
    assert email["To"] == "ada@acme.example"
    assert email["Subject"] == rendered.subject
    assert email["Message-ID"] == "<msg-1@acme.example>"
    assert email["Date"] == "Fri, 02 Jan 2026 03:04:05 +0000"
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["X-Auto-Response-Suppress"] == "All"
    assert email.get_content_type() == "multipart/alternative"
    text, html = bodies(email)
    assert text == rendered.text
    assert URL in text
    assert html.strip() == (rendered.html or "").strip()


def test_a_body_line_starting_with_from_is_not_quoted() -> None:
    settings = settings_("login@acme.example")
    rendered = Rendered("Sign in", "From here, sign in:\nhttps://x.example/\n", "<p>From here</p>")
    text, html = bodies(read_back(rendered, settings))
    assert text == rendered.text
    assert html.strip() == "<p>From here</p>"


def test_a_plain_short_email_goes_as_is() -> None:
    settings = settings_("Acme Login <login@acme.example>")
    rendered = Rendered("Sign in", "Hello\nhttps://x.example/\n", "<p>Hello</p>")
    email = read_back(rendered, settings)
    assert email["From"] == "Acme Login <login@acme.example>"
    assert [p["Content-Transfer-Encoding"] for p in email.iter_parts()] == ["7bit", "7bit"]
    assert bodies(email)[0] == rendered.text
