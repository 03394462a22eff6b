"""PostgreSQL: the session checks that reach their read together on the event loop are read
by one statement (`lookup.gathered_rows`, through `loop_units.gathered`), and each is answered
exactly as if it had been read alone: its own session, or not found."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from antechamber import db
from antechamber.services import Services
from antechamber.sessions import lookup
from tests.conftest import Credentials
from tests.factories import allow_redirect, make_member, make_org
from tests.flows import SESSION_AUTHENTICATE, SESSION_REVOKE, login

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def signed_in(api: TestClient, services: Services, project: Credentials) -> dict[str, Any]:
    """ada's two sessions and bob's, in one organization: name -> `login`'s answer."""
    allow_redirect(services, project.project_id)
    org = make_org(services, project.project_id, organization_slug="acme")
    for email in ("ada@acme.example", "bob@acme.example"):
        make_member(services, project.project_id, org, email_address=email)
    return {
        "ada": login(api, services, "ada@acme.example", org.id),
        "ada2": login(api, services, "ada@acme.example", org.id),
        "bob": login(api, services, "bob@acme.example", org.id),
    }


def test_a_gathered_read_gives_each_check_the_row_its_own_read_gives(
    api: TestClient, services: Services, project: Credentials, signed_in: dict[str, Any]
) -> None:
    assert api.post(SESSION_REVOKE, json={"session_token": signed_in["ada2"]["session_token"]})
    now = services.clock.now()
    later = now + timedelta(days=400)  # past every session's expiry

    def token(name: str, **other: Any) -> dict[str, Any]:
        digest = lookup._digest(signed_in[name]["session_token"] if name in signed_in else name)
        return {"project_id": project.project_id, "now": now, "digest": digest, **other}

    def ids(name: str, member: str, **other: Any) -> dict[str, Any]:
        session_id = signed_in[name]["member_session"]["member_session_id"]
        member_id = signed_in[member]["member_id"]
        live = {"project_id": project.project_id, "now": now}
        return {**live, "session_id": session_id, "member_id": member_id, **other}

    by_token = [
        token("ada"),
        token("bob"),
        token("ada2"),  # revoked
        token("not-a-token"),
        token("ada", project_id="project-test-other"),
        token("ada", now=later),
        token("ada"),  # the same again
    ]
    by_id = [ids("ada", "ada"), ids("ada", "bob"), ids("bob", "bob"), ids("ada", "ada", now=later)]
    with db.transaction(services.sessions, read_only=True) as session:
        conn = db.connection(session)
        for way, checks in ((lookup.BY_TOKEN, by_token), (lookup.BY_ID, by_id)):
            alone = [conn.execute(lookup._NARROW[way], check).first() for check in checks]
            gathered = lookup.gathered_rows(conn, way, checks)
            assert [row is not None for row in alone] == (
                [True, True, False, False, False, False, True]
                if way == lookup.BY_TOKEN
                else [True, False, True, False]
            )
            for place, (one, row) in enumerate(zip(alone, gathered, strict=True)):
                assert (one is None) == (row is None)
                if one is not None:
                    assert tuple(row[:-1]) == tuple(one)
                    assert row[-1] == place


def _gathered_reads(engine: Engine) -> list[str]:
    """The gathered statements the engine runs from here on."""
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "jsonb_to_recordset" in statement and "member_sessions" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    return seen


def test_checks_together_are_read_together_and_answered_each_as_alone(
    app: Any,
    api: TestClient,
    engine: Engine,
    project: Credentials,
    signed_in: dict[str, Any],
) -> None:
    ada, ada2, bob = signed_in["ada"], signed_in["ada2"], signed_in["bob"]
    bodies = [
        {"session_token": ada["session_token"]},
        {"session_jwt": ada["session_jwt"]},
        {"session_token": bob["session_token"]},
        {"session_token": ada2["session_token"]},
        {"session_jwt": bob["session_jwt"]},
    ]
    for body in bodies:  # each checked once: its next check reads by versions (`_NARROW`)
        assert api.post(SESSION_AUTHENTICATE, json=body).status_code == 200
    assert api.post(SESSION_REVOKE, json={"session_token": ada2["session_token"]})
    bodies.append({"session_token": "not-a-token"})
    bodies.append({"session_token": ada["session_token"]})
    gathered = _gathered_reads(engine)

    async def together() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", auth=project.auth
        ) as client:
            return await asyncio.gather(
                *(client.post(SESSION_AUTHENTICATE, json=body) for body in bodies)
            )

    answers = asyncio.run(together())
    assert [r.status_code for r in answers] == [200, 200, 200, 404, 200, 404, 200]
    members = [r.json()["member"]["member_id"] if r.status_code == 200 else None for r in answers]
    assert members == [
        ada["member_id"],
        ada["member_id"],
        bob["member_id"],
        None,
        bob["member_id"],
        None,
        ada["member_id"],
    ]
    assert answers[3].json()["error_type"] == "session_not_found"
    assert (
        answers[1].json()["member_session"]["member_session_id"]
        == (ada["member_session"]["member_session_id"])
    )
    # The four checks by token that were checked before went in one statement, the two by
    # JWT in another (the unknown token is read whole, as any first check).
    assert len(gathered) == 2
