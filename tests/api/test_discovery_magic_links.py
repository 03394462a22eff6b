"""Discovery magic links over the API: send (allow-listed URL, outbox) and authenticate."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from antechamber.clock import FrozenClock
from antechamber.delivery import outbox
from antechamber.magic_links.service import pkce_challenge
from antechamber.services import Services
from tests.conftest import Credentials
from tests.factories import (
    CALLBACK_URL,
    allow_redirect,
    last_link,
    magic_token,
    make_member,
    make_org,
)
from tests.flows import AUTHENTICATE, SEND


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


def messages_to(services: Services, email: str) -> int:
    with services.sessions() as session:
        return len(outbox.recent(session, recipient=email))


def test_send_emails_a_link_on_the_registered_url(api: TestClient, services: Services) -> None:
    response = api.post(SEND, json={"email_address": "  Ada@ACME.example "})
    assert response.status_code == 200
    assert set(response.json()) == {"request_id", "status_code"}
    url = last_link(services, "ada@acme.example")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK_URL
    query = parse_qs(parts.query)
    assert query["stytch_token_type"] == ["discovery"]
    assert len(query["token"][0]) >= 43  # 256 bits, base64url
    with services.sessions() as session:
        [message] = outbox.recent(session, recipient="ada@acme.example")
        assert message.template == "discovery_magic_link"
        context = outbox.context_of(message, services.settings.key_bytes())
        assert context["expiration_minutes"] == 60


def test_known_and_unknown_emails_get_the_same_answer(
    api: TestClient, services: Services, project: Credentials
) -> None:
    org = make_org(services, project.project_id)
    make_member(services, project.project_id, org, email_address="known@acme.example")
    known = api.post(SEND, json={"email_address": "known@acme.example"})
    unknown = api.post(SEND, json={"email_address": "nobody@acme.example"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r: {k: v for k, v in r.json().items() if k != "request_id"}  # noqa: E731
    assert strip(known) == strip(unknown)
    assert messages_to(services, "nobody@acme.example") == 1


def test_redirect_url_must_be_registered_exactly(api: TestClient, services: Services) -> None:
    for url, error in [
        (CALLBACK_URL + "/", "no_match_for_provided_magic_link_url"),
        (CALLBACK_URL + "?next=/admin", "no_match_for_provided_magic_link_url"),
        ("https://evil.example/auth/callback", "no_match_for_provided_magic_link_url"),
        ("javascript:alert(1)", "invalid_discovery_redirect_url"),
        ("http://localhost:3000@evil.example/", "invalid_discovery_redirect_url"),
        ("not a url", "invalid_discovery_redirect_url"),
    ]:
        response = api.post(
            SEND, json={"email_address": "ada@acme.example", "discovery_redirect_url": url}
        )
        assert response.status_code == 400, url
        assert response.json()["error_type"] == error, url
    assert messages_to(services, "ada@acme.example") == 0
    ok = api.post(
        SEND, json={"email_address": "ada@acme.example", "discovery_redirect_url": CALLBACK_URL}
    )
    assert ok.status_code == 200


def test_the_default_url_is_used_when_none_is_given(
    api: TestClient, services: Services, project: Credentials, clock: FrozenClock
) -> None:
    allow_redirect(services, project.project_id, "https://app.example/login")
    api.post(SEND, json={"email_address": "ada@acme.example"})
    assert last_link(services, "ada@acme.example").startswith(CALLBACK_URL + "?")
    clock.advance(seconds=1)  # the outbox orders by time
    given = api.post(
        SEND,
        json={
            "email_address": "ada@acme.example",
            "discovery_redirect_url": "https://app.example/login",
        },
    )
    assert given.status_code == 200
    assert last_link(services, "ada@acme.example").startswith("https://app.example/login?")


def test_a_project_without_redirect_urls_cannot_send(
    client: TestClient, other_project: Credentials
) -> None:
    client.auth = other_project.auth
    response = client.post(SEND, json={"email_address": "ada@acme.example"})
    assert response.status_code == 400
    assert response.json()["error_type"] == "no_discovery_redirect_urls_set"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"email_address": "not-an-email"}, "invalid_email"),
        (
            {"email_address": "ada@acme.example", "discovery_expiration_minutes": 4},
            "invalid_expiration",
        ),
        (
            {"email_address": "ada@acme.example", "discovery_expiration_minutes": 10081},
            "invalid_expiration",
        ),
        ({"email_address": "ada@acme.example", "locale": "xx"}, "invalid_locale"),
        (
            {"email_address": "ada@acme.example", "pkce_code_challenge": "short"},
            "invalid_pkce_code_challenge",
        ),
        ({}, "invalid_argument"),
    ],
)
def test_send_refuses_bad_fields(
    api: TestClient, services: Services, fields: dict[str, object], error: str
) -> None:
    response = api.post(SEND, json=fields)
    assert response.status_code == 400
    assert response.json()["error_type"] == error
    assert messages_to(services, "ada@acme.example") == 0


def test_link_lifetime_and_locale_are_honoured(
    api: TestClient, services: Services, clock: FrozenClock
) -> None:
    api.post(
        SEND,
        json={
            "email_address": "ada@acme.example",
            "discovery_expiration_minutes": 5,
            "locale": "fr",
        },
    )
    with services.sessions() as session:
        [message] = outbox.recent(session, recipient="ada@acme.example")
        assert message.locale == "fr"
    token = magic_token(services, "ada@acme.example")
    clock.advance(minutes=5, seconds=1)
    expired = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert expired.status_code == 401
    assert expired.json()["error_type"] == "unable_to_auth_magic_link"


def test_authenticate_returns_an_ist_and_the_email(api: TestClient, services: Services) -> None:
    api.post(SEND, json={"email_address": "ada@acme.example"})
    token = magic_token(services, "ada@acme.example")
    response = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert response.status_code == 200
    body = response.json()
    assert body["email_address"] == "ada@acme.example"
    assert len(body["intermediate_session_token"]) >= 43
    assert body["intermediate_session_token"] != token
    assert body["discovered_organizations"] == []
    assert body["intermediate_session_token_expires_at"].endswith("Z")


def test_a_link_works_once(api: TestClient, services: Services) -> None:
    api.post(SEND, json={"email_address": "ada@acme.example"})
    token = magic_token(services, "ada@acme.example")
    first = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert first.status_code == 200
    again = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert again.status_code == 401
    assert again.json()["error_type"] == "unable_to_auth_magic_link"


def test_a_new_link_ends_the_addresss_earlier_one_and_no_one_elses(
    api: TestClient, services: Services
) -> None:
    """On PostgreSQL the superseding UPDATE waits for the new link's INSERT and goes with it
    (`update_unread`): the earlier link must be dead all the same once the send has answered."""
    api.post(SEND, json={"email_address": "ada@acme.example"})
    earlier = magic_token(services, "ada@acme.example")
    api.post(SEND, json={"email_address": "bob@acme.example"})
    others = magic_token(services, "bob@acme.example")
    with services.sessions() as session:  # the clock is frozen: the earlier message's id
        seen = {m.id for m in outbox.recent(session, recipient="ada@acme.example")}
    assert api.post(SEND, json={"email_address": "ada@acme.example"}).status_code == 200
    newest = magic_token(services, "ada@acme.example", seen=seen)
    refused = api.post(AUTHENTICATE, json={"discovery_magic_links_token": earlier})
    assert refused.status_code == 401
    assert refused.json()["error_type"] == "unable_to_auth_magic_link"
    assert api.post(AUTHENTICATE, json={"discovery_magic_links_token": newest}).status_code == 200
    assert api.post(AUTHENTICATE, json={"discovery_magic_links_token": others}).status_code == 200


def test_a_link_expires_after_an_hour(
    api: TestClient, services: Services, clock: FrozenClock
) -> None:
    api.post(SEND, json={"email_address": "ada@acme.example"})
    token = magic_token(services, "ada@acme.example")
    clock.advance(timedelta(minutes=60))
    response = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert response.status_code == 401
    assert response.json()["error_type"] == "unable_to_auth_magic_link"


def test_unknown_and_foreign_tokens_are_not_found(
    api: TestClient, client: TestClient, services: Services, other_project: Credentials
) -> None:
    unknown = api.post(AUTHENTICATE, json={"discovery_magic_links_token": "x" * 43})
    assert unknown.status_code == 404
    assert unknown.json()["error_type"] == "magic_link_not_found"
    api.post(SEND, json={"email_address": "ada@acme.example"})
    token = magic_token(services, "ada@acme.example")
    foreign = client.post(
        AUTHENTICATE, json={"discovery_magic_links_token": token}, auth=other_project.auth
    )
    assert foreign.status_code == 404
    # … and the real project can still use it.
    assert api.post(AUTHENTICATE, json={"discovery_magic_links_token": token}).status_code == 200


def test_pkce_binds_the_link_to_the_device_that_asked(api: TestClient, services: Services) -> None:
    verifier = "v" * 50
    api.post(
        SEND,
        json={"email_address": "ada@acme.example", "pkce_code_challenge": pkce_challenge(verifier)},
    )
    token = magic_token(services, "ada@acme.example")
    missing = api.post(AUTHENTICATE, json={"discovery_magic_links_token": token})
    assert missing.json()["error_type"] == "pkce_expected_code_verifier"
    wrong = api.post(
        AUTHENTICATE, json={"discovery_magic_links_token": token, "pkce_code_verifier": "w" * 50}
    )
    assert wrong.json()["error_type"] == "pkce_mismatch"
    # Failed attempts do not burn the link for its owner.
    right = api.post(
        AUTHENTICATE, json={"discovery_magic_links_token": token, "pkce_code_verifier": verifier}
    )
    assert right.status_code == 200


def test_a_verifier_without_a_challenge_is_refused(api: TestClient, services: Services) -> None:
    api.post(SEND, json={"email_address": "ada@acme.example"})
    token = magic_token(services, "ada@acme.example")
    response = api.post(
        AUTHENTICATE, json={"discovery_magic_links_token": token, "pkce_code_verifier": "v" * 50}
    )
    assert response.json()["error_type"] == "pkce_did_not_expect_code_verifier"
