"""A read-only session check remembers its member's and organization's rows by their exact
contents (`sessions.known.Known`), and its session's JSON values by their text
(`known.shared_decoded`), and encodes their parts of the answer once
(`api.serializers.member_part`, `organization_part`): the answer's bytes are those of a check
that remembers nothing, before and after the organization or the member changes."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from antechamber import json_columns
from antechamber.api import serializers
from antechamber.clock import FrozenClock
from antechamber.services import Services
from antechamber.sessions import known as known_rows
from antechamber.sessions import lookup
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org
from tests.flows import SESSION_AUTHENTICATE, SESSION_REVOKE, login


@pytest.fixture(autouse=True)
def callback(services: Services, project: Credentials) -> None:
    allow_redirect(services, project.project_id)


@pytest.fixture
def org(services: Services, project: Credentials) -> Any:
    org = make_org(
        services,
        project.project_id,
        organization_slug="acme",
        trusted_metadata={"tier": "gold", "n": [1, 2.5, None], "big": 2**40},
        email_allowed_domains=["acme.example"],
        rbac_email_implicit_role_assignments=[
            {"domain": "acme.example", "role_id": "stytch_admin"}
        ],
    )
    make_member(
        services,
        project.project_id,
        org,
        email_address="ada@acme.example",
        name="Ada",
        trusted_metadata={"team": "core"},
    )
    return org


@pytest.fixture
def session(api: TestClient, services: Services, org: Any) -> dict[str, Any]:
    return login(api, services, "ada@acme.example", org.id)


def _plain(monkeypatch: pytest.MonkeyPatch) -> None:
    """Checks that remember nothing: every check decodes its rows and encodes every part."""

    def fresh(raw: tuple[Any, ...], _versions: str | None = None) -> known_rows.Known:
        values = known_rows.decoded(raw, known_rows.JSON_AT)
        cut = len(known_rows.MEMBERS)
        return known_rows.Known(values[:cut], values[cut:])

    monkeypatch.setattr(known_rows, "remembered", fresh)
    monkeypatch.setattr(known_rows, "by_version", lambda _ids, _versions: None)
    monkeypatch.setattr(known_rows, "shared_decoded", known_rows.decoded)
    monkeypatch.setattr(
        serializers, "member_part", lambda db, m, now, org, _d: serializers.member(db, m, now, org)
    )
    monkeypatch.setattr(
        serializers, "organization_part", lambda org, _d: serializers.organization(org)
    )


def _check(api: TestClient, body: dict[str, Any]) -> bytes:
    response = api.post(SESSION_AUTHENTICATE, json=body)
    assert response.status_code == 200, response.text
    request_id = response.json()["request_id"]
    return response.content.replace(request_id.encode(), b"<request id>")


def _answers(api: TestClient, session: dict[str, Any]) -> list[bytes]:
    # By token and by JWT, each twice (the second from what the first remembered).
    return [
        _check(api, {credential: session[credential]})
        for credential in ("session_token", "session_jwt", "session_token", "session_jwt")
    ]


def test_a_check_answers_the_same_bytes_as_one_that_remembers_nothing(
    api: TestClient,
    session: dict[str, Any],
    org: Any,
    clock: FrozenClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    member_id = session["member_id"]
    changes = [
        None,
        ("organization", {"organization_name": "Acme 2", "trusted_metadata": {"tier": "x"}}),
        ("member", {"name": "Ada L.", "untrusted_metadata": {"k": [1, {"v": True}]}}),
        ("organization", {"email_allowed_domains": ["acme.example", "b.example"]}),
        ("member", {"roles": ["stytch_admin"]}),
    ]
    for change in changes:
        if change is not None:
            where, fields = change
            path = f"/v1/b2b/organizations/{org.id}"
            if where == "member":
                path += f"/members/{member_id}"
            assert api.put(path, json=fields).status_code == 200
            clock.advance(seconds=1)
        remembered = _answers(api, session)
        with monkeypatch.context() as plain:
            _plain(plain)
            assert _answers(api, session) == remembered
        # What changed shows at once.
        last = _check(api, {"session_token": session["session_token"]})
        assert last == remembered[0]
        if change is not None:
            for key, value in change[1].items():
                if key == "organization_name":
                    assert f'"organization_name":"{value}"'.encode() in last
                if key == "name":
                    assert f'"name":"{value}"'.encode() in last


def test_the_remembered_values_are_not_changed_by_checks(
    api: TestClient, session: dict[str, Any], org: Any
) -> None:
    # The checks share the values they find remembered: none may change them, the
    # authorization check (rbac) included.
    known_rows._known.clear()
    known_rows._texts.clear()
    for _ in range(2):
        _answers(api, session)
        api.post(
            SESSION_AUTHENTICATE,
            json={
                "session_token": session["session_token"],
                "authorization_check": {
                    "organization_id": org.id,
                    "resource_id": "x",
                    "action": "y",
                },
            },
        )
    assert known_rows._known
    assert known_rows._texts  # the session's own JSON values, shared by the same checks
    for text, value in known_rows._texts.items():
        assert value == json_columns.loads(text)
    cut = len(known_rows.MEMBERS)
    for (member_id, org_id), (raw, _versions, known) in known_rows._known.items():
        assert (member_id, org_id) == (known.member.id, known.organization.id)
        values = [
            json_columns.loads(v) if i in known_rows.JSON_AT and v else v for i, v in enumerate(raw)
        ]
        # Every column as read, and nothing else set on either object.
        for obj, columns, expected in (
            (known.member, known_rows.MEMBERS, values[:cut]),
            (known.organization, known_rows.ORGANIZATIONS, values[cut:]),
        ):
            found = {k: v for k, v in vars(obj).items() if k != "_sa_instance_state"}
            assert found == dict(zip(columns.keys, expected, strict=True))


def test_a_locked_member_is_not_remembered_as_encoded(
    api: TestClient, session: dict[str, Any], services: Services, clock: FrozenClock
) -> None:
    # Whether a lock holds depends on the time: such a member is encoded at each check.
    from datetime import timedelta

    from sqlalchemy import update

    from antechamber.members.models import Member

    with services.sessions() as db, db.begin():
        db.execute(
            update(Member)
            .where(Member.id == session["member_id"])
            .values(lock_created_at=clock.now(), lock_expires_at=clock.now() + timedelta(minutes=5))
        )
    first = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]})
    assert first.json()["member"]["is_locked"] is True
    clock.advance(minutes=6)
    later = api.post(SESSION_AUTHENTICATE, json={"session_token": session["session_token"]})
    assert later.status_code == 200
    assert later.json()["member"]["is_locked"] is False
    assert later.json()["member"]["lock_expires_at"] is None


def test_the_memory_is_bounded(
    api: TestClient,
    services: Services,
    project: Credentials,
    session: dict[str, Any],
    org: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(known_rows, "KNOWN_KEPT", 2)
    known_rows._known.clear()
    known_rows._texts.clear()
    sessions = [session]
    for name in ("bob", "cy"):
        make_member(services, project.project_id, org, email_address=f"{name}@acme.example")
        sessions.append(login(api, services, f"{name}@acme.example", org.id))
    for each in sessions:
        _check(api, {"session_token": each["session_token"]})
    # A pair each, the newest two; the sessions' JSON texts as many.
    assert [key[0] for key in known_rows._known] == [s["member_id"] for s in sessions[1:]]
    assert len(known_rows._texts) == 2
    # New contents of a pair take its place: one entry a pair, the newest rows.
    for n in range(3):
        assert (
            api.put(
                f"/v1/b2b/organizations/{org.id}", json={"organization_name": f"N{n}"}
            ).status_code
            == 200
        )
        _check(api, {"session_token": sessions[2]["session_token"]})
    assert len(known_rows._known) == 2
    _raw, _versions, known = known_rows._known[(sessions[2]["member_id"], org.id)]
    assert known.organization.name == "N2"
    # Even with none to keep, a check of new rows goes through (its pair stays until the next).
    monkeypatch.setattr(known_rows, "KNOWN_KEPT", 0)
    assert (
        api.put(f"/v1/b2b/organizations/{org.id}", json={"organization_name": "N4"}).status_code
        == 200
    )
    _check(api, {"session_token": session["session_token"]})
    assert len(known_rows._known) == 1
    assert len(known_rows._texts) <= 1


@pytest.mark.parametrize("end", ["revoked", "expired"])
def test_a_remembered_session_is_refused_at_once_when_it_ends(
    api: TestClient, session: dict[str, Any], clock: FrozenClock, end: str
) -> None:
    """security.md §1.3: revocation and expiry take effect on the next check, whatever the
    process remembers of the member's and organization's rows (`Known`) and of the JWT
    (`jwts.subject`): both are warm here, by token and by JWT."""
    _answers(api, session)
    if end == "revoked":
        revoked = api.post(SESSION_REVOKE, json={"session_token": session["session_token"]})
        assert revoked.status_code == 200
    else:
        clock.advance(minutes=60)
    for credential in ("session_token", "session_jwt"):
        response = api.post(SESSION_AUTHENTICATE, json={credential: session[credential]})
        assert response.status_code == 404
        assert response.json()["error_type"] == "session_not_found"


def test_a_row_written_behind_the_api_shows_at_once(
    api: TestClient, session: dict[str, Any], services: Services, org: Any
) -> None:
    """Whatever writes the rows (here SQL of its own, `updated_at` left as it was), the next
    check answers the new contents: on PostgreSQL the write made new row versions, elsewhere
    the contents differ."""
    from sqlalchemy import update

    from antechamber.members.models import Member
    from antechamber.organizations.models import Organization

    _answers(api, session)
    with services.sessions() as db, db.begin():
        db.execute(update(Member).where(Member.id == session["member_id"]).values(name="Behind"))
        db.execute(update(Organization).where(Organization.id == org.id).values(slug="behind"))
    for credential in ("session_token", "session_jwt"):
        answer = api.post(SESSION_AUTHENTICATE, json={credential: session[credential]}).json()
        assert answer["member"]["name"] == "Behind"
        assert answer["organization"]["organization_slug"] == "behind"


@pytest.mark.postgres_only
def test_remembered_rows_are_found_by_their_versions(
    api: TestClient,
    session: dict[str, Any],
    services: Services,
    org: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On PostgreSQL a session's first check reads its three rows whole; the next ones read
    only the member's and organization's versions (`by_version` finds them); a write of a
    row, even one that changes nothing, is a new version: the next check reads the rows again
    and, the contents being the same, keeps the same objects."""
    from sqlalchemy import update

    from antechamber.members.models import Member

    found: list[bool] = []
    by_version = known_rows.by_version

    def counted(ids: tuple[Any, Any], versions: str) -> known_rows.Known | None:
        known = by_version(ids, versions)
        found.append(known is not None)
        return known

    monkeypatch.setattr(known_rows, "by_version", counted)
    known_rows._known.clear()
    lookup._checked.clear()
    first = _answers(api, session)
    assert found == [True, True]  # by token, by JWT: each read whole the first time
    ids = (session["member_id"], org.id)
    _raw, versions, known = known_rows._known[ids]
    with services.sessions() as db, db.begin():
        db.execute(update(Member).where(Member.id == ids[0]).values(name=Member.name))
    found.clear()
    assert _answers(api, session) == first
    assert found == [False, True, True, True]
    _raw, new_versions, same = known_rows._known[ids]
    assert new_versions != versions
    assert same is known
