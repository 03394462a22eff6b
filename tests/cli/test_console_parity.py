"""Every console action is also a command with --json: operators, unlock, reset-phone,
revoke-secret and the audit trail."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.cli.conftest import run
from tests.factories import enrol_totp, lock_member, open_console_session

pytestmark = pytest.mark.usefixtures("cli_env")


def make_project(capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    code, out, _ = run(capsys, "projects", "create", "Acme", "--json")
    assert code == 0
    created: dict[str, str] = json.loads(out)
    return created


def test_operators_add_list_sign_out_remove(
    capsys: pytest.CaptureFixture[str], services: Services
) -> None:
    code, out, _ = run(
        capsys, "operators", "add", "Ops@Example.com", "--phone", "+12025550123", "--json"
    )
    assert code == 0
    added = json.loads(out)
    assert added["email_address"] == "ops@example.com"
    assert added["mfa_phone_number"] == "+12025550123"

    code, _, err = run(capsys, "operators", "add", "ops@example.com", "--phone", "+12025550124")
    assert code == 1
    assert err.startswith("error: operator_already_exists:")
    code, _, err = run(capsys, "operators", "add", "x@example.com")
    assert code == 2  # the phone is required
    assert "--phone" in err

    open_console_session(services, added["member_id"])
    code, out, _ = run(capsys, "operators", "list", "--json")
    [listed] = json.loads(out)
    assert (listed["email_address"], listed["live_console_sessions"]) == ("ops@example.com", 1)

    code, out, _ = run(capsys, "operators", "sign-out", "ops@example.com", "--json")
    assert json.loads(out) == {"member_id": added["member_id"], "sessions_ended": 1}
    _, out, _ = run(capsys, "operators", "list")
    assert "sessions=0" in out

    code, out, _ = run(capsys, "operators", "remove", "ops@example.com", "--yes", "--json")
    assert code == 0
    assert json.loads(out) == {"member_id": added["member_id"]}
    _, out, _ = run(capsys, "operators", "list")
    assert out.strip() == "no operators"
    code, _, err = run(capsys, "operators", "remove", "ops@example.com", "--yes")
    assert code == 1
    assert "operator_not_found" in err


def test_the_operators_project_stays_out_of_the_way(capsys: pytest.CaptureFixture[str]) -> None:
    created = make_project(capsys)
    run(capsys, "operators", "add", "ops@example.com", "--phone", "+12025550123")
    _, out, _ = run(capsys, "projects", "list", "--json")
    assert [p["project_id"] for p in json.loads(out)] == [created["project_id"]]
    # With one customer project, commands still find it without --project.
    code, _, _ = run(capsys, "orgs", "create", "Acme Co", "--json")
    assert code == 0


def test_members_unlock_and_reset_phone(
    capsys: pytest.CaptureFixture[str], services: Services
) -> None:
    make_project(capsys)
    run(capsys, "orgs", "create", "Acme Co", "--slug", "acme")
    _, out, _ = run(
        capsys, "members", "create", "acme", "ada@acme.example", "--phone", "+12025550123", "--json"
    )
    member = json.loads(out)
    with services.sessions() as session:
        row = session.get(Member, member["member_id"])
        assert row is not None
    lock_member(services, row)
    _, out, _ = run(capsys, "members", "show", "acme", "ada@acme.example", "--json")
    assert json.loads(out)["is_locked"] is True

    code, out, _ = run(capsys, "members", "unlock", "acme", "ada@acme.example", "--json")
    assert code == 0
    assert json.loads(out)["is_locked"] is False

    code, out, _ = run(
        capsys, "members", "reset-phone", "acme", member["member_id"], "--yes", "--json"
    )
    assert code == 0
    assert json.loads(out)["mfa_phone_number"] == ""

    code, out, _ = run(
        capsys, "audit", "list", "--org", "acme", "--member", "ada@acme.example", "--json"
    )
    assert code == 0
    page = json.loads(out)
    assert [e["event_type"] for e in page["events"]] == [
        "member.mfa_phone_reset",
        "member.unlocked",
        "member.created",
    ]
    assert {e["actor"] for e in page["events"]} == {"cli"}
    assert page["next_before"] is None


def test_revoke_secret(capsys: pytest.CaptureFixture[str], client: TestClient) -> None:
    first = make_project(capsys)
    pid = first["project_id"]
    _, out, _ = run(capsys, "projects", "rotate-secret", pid, "--json")
    second = json.loads(out)
    code, out, _ = run(capsys, "projects", "revoke-secret", pid, first["secret_id"], "--json")
    assert code == 0
    revoked = json.loads(out)
    assert revoked["secret_id"] == first["secret_id"]
    assert revoked["last_four"] == first["secret"][-4:]
    search = "/v1/b2b/organizations/search"
    assert client.post(search, json={}, auth=(pid, first["secret"])).status_code == 401
    assert client.post(search, json={}, auth=(pid, second["secret"])).status_code == 200
    code, _, err = run(capsys, "projects", "revoke-secret", pid, first["secret_id"])
    assert code == 1
    assert err.startswith("error: secret_not_found:")


def test_audit_list_filters_and_pages(capsys: pytest.CaptureFixture[str]) -> None:
    make_project(capsys)
    run(capsys, "orgs", "create", "Acme Co", "--slug", "acme")
    for n in range(3):
        run(capsys, "members", "create", "acme", f"p{n}@acme.example")

    _, out, _ = run(capsys, "audit", "list", "--type", "member.created", "--limit", "2", "--json")
    page = json.loads(out)
    assert len(page["events"]) == 2
    assert page["next_before"] is not None
    _, out, _ = run(
        capsys,
        "audit",
        "list",
        "--type",
        "member.created",
        "--before",
        str(page["next_before"]),
        "--json",
    )
    assert len(json.loads(out)["events"]) == 1

    _, out, _ = run(capsys, "audit", "list", "--since", "2000-01-01", "--until", "2000-01-02")
    assert out.strip() == "no events"
    _, out, _ = run(capsys, "audit", "list", "--org", "acme", "--limit", "1")
    assert "(more: --before" in out

    code, _, err = run(capsys, "audit", "list", "--type", "member.exploded")
    assert code == 1
    assert err.startswith("error: invalid_audit_event_type:")
    code, _, err = run(capsys, "audit", "list", "--since", "yesterday")
    assert code == 2
    assert err.count("\n") == 1


def test_sessions_list_and_revoke(capsys: pytest.CaptureFixture[str], services: Services) -> None:
    from antechamber.organizations.models import Organization
    from tests.factories import start_session

    created = make_project(capsys)
    run(capsys, "orgs", "create", "Acme Co", "--slug", "acme")
    _, out, _ = run(capsys, "members", "create", "acme", "ada@acme.example", "--json")
    member = json.loads(out)
    with services.sessions() as session:
        row = session.get(Member, member["member_id"])
        org = session.get(Organization, member["organization_id"])
        assert row is not None
        assert org is not None
    first, token, jwt = start_session(services, created["project_id"], org, row)
    second, _, _ = start_session(services, created["project_id"], org, row)

    code, out, _ = run(capsys, "sessions", "list", "acme", "ada@acme.example", "--json")
    assert code == 0
    listed = json.loads(out)
    assert {s["member_session_id"] for s in listed} == {first, second}  # same frozen start
    assert listed[0]["authentication_factors"] == [
        {"type": "magic_link", "delivery_method": "email"}
    ]
    assert token not in out
    assert jwt not in out
    code, out, _ = run(capsys, "sessions", "list", "acme", "ada@acme.example")
    assert code == 0
    assert first in out

    code, out, _ = run(
        capsys,
        "sessions",
        "revoke",
        "acme",
        "ada@acme.example",
        "--session",
        first,
        "--yes",
        "--json",
    )
    assert code == 0
    assert json.loads(out) == {"revoked_member_session_ids": [first]}
    code, _, err = run(
        capsys, "sessions", "revoke", "acme", "ada@acme.example", "--session", first, "--yes"
    )
    assert code == 1
    assert err.startswith("error: session_not_found:")
    code, out, _ = run(capsys, "sessions", "revoke", "acme", member["member_id"], "--yes", "--json")
    assert code == 0
    assert json.loads(out) == {"revoked_member_session_ids": [second]}
    code, out, _ = run(capsys, "sessions", "list", "acme", "ada@acme.example", "--json")
    assert json.loads(out) == []

    code, out, _ = run(
        capsys, "audit", "list", "--org", "acme", "--type", "session.revoked", "--json"
    )
    assert code == 0, out
    assert {e["actor"] for e in json.loads(out)["events"]} == {"cli"}
    assert len(json.loads(out)["events"]) == 2


def test_sessions_commands_have_help(capsys: pytest.CaptureFixture[str]) -> None:
    for args in (
        ("sessions", "--help"),
        ("sessions", "list", "--help"),
        ("sessions", "revoke", "--help"),
    ):
        code, out, _ = run(capsys, *args)
        assert code == 0
        assert "Usage" in out
    _, out, _ = run(capsys, "sessions", "revoke", "--help")
    for option in ("--session", "--yes", "--json", "--project"):
        assert option in out


def test_outbox_failed_and_retry(capsys: pytest.CaptureFixture[str], services: Services) -> None:
    from tests.admin.test_outbox import failed_message

    created = make_project(capsys)
    failed = failed_message(services, created["project_id"], "ada@acme.example")

    code, out, _ = run(capsys, "outbox", "failed", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["message_id"], r["attempts"]) for r in rows] == [(failed.id, 5)]
    assert rows[0]["last_error"] == "smtp 550: mailbox unavailable"
    assert failed.payload not in out

    code, out, _ = run(capsys, "outbox", "retry", failed.id, "--json")
    assert code == 0
    assert json.loads(out)["status"] == "pending"
    code, _, err = run(capsys, "outbox", "retry", failed.id)
    assert code == 1
    assert err.startswith("error: outbox_message_not_failed:")
    code, _, err = run(capsys, "outbox", "retry", "nope")
    assert code == 1
    assert err.startswith("error: outbox_message_not_found:")
    code, out, _ = run(capsys, "outbox", "failed")
    assert out.strip() == "no failed messages"
    code, out, _ = run(capsys, "audit", "list", "--type", "outbox_message.retried", "--json")
    assert [e["actor"] for e in json.loads(out)["events"]] == ["cli"]

    for args in (("outbox", "failed", "--help"), ("outbox", "retry", "--help")):
        code, out, _ = run(capsys, *args)
        assert code == 0
        assert "--json" in out


def test_members_reset_totp(capsys: pytest.CaptureFixture[str], services: Services) -> None:
    created = make_project(capsys)
    _, out, _ = run(capsys, "orgs", "create", "Acme Co", "--slug", "acme", "--json")
    _, out2, _ = run(capsys, "members", "create", "acme", "ada@acme.example", "--json")
    with services.sessions() as session:
        org = session.get(Organization, json.loads(out)["organization_id"])
        member = session.get(Member, json.loads(out2)["member_id"])
    assert org is not None
    assert member is not None
    enrol_totp(services, created["project_id"], org, member)

    code, out, _ = run(
        capsys, "members", "reset-totp", "acme", "ada@acme.example", "--yes", "--json"
    )
    assert code == 0
    assert json.loads(out)["totp_registration_id"] == ""
    code, _, err = run(capsys, "members", "reset-totp", "acme", "ada@acme.example", "--yes")
    assert code == 1
    assert "totp_not_found" in err
