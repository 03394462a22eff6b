"""`antechamber members invite | resend | revoke`."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from antechamber.audit.models import AuditEvent
from antechamber.cli import context
from tests.cli.conftest import run


@pytest.mark.usefixtures("cli_env")
def test_invite_resend_revoke(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "projects", "create", "Acme", "--json")
    assert code == 0
    run(capsys, "orgs", "create", "Acme Co", "--json")
    code, _, err = run(capsys, "members", "invite", "acme-co", "carol@contractor.example")
    assert code == 1
    assert err.startswith("error: no_invite_redirect_urls_set:")
    run(capsys, "redirect-urls", "add", "http://localhost:3000/invite", "--type", "invite")

    code, out, err = run(
        capsys,
        "members",
        "invite",
        "acme-co",
        "Carol@Contractor.example",
        "--name",
        "Carol",
        "--json",
    )
    assert code == 0, err
    member = json.loads(out)
    assert (member["status"], member["name"]) == ("invited", "Carol")

    code, out, _ = run(capsys, "members", "resend", "acme-co", "carol@contractor.example")
    assert code == 0
    assert "carol@contractor.example" in out

    run(capsys, "members", "create", "acme-co", "ada@acme.example")
    code, _, err = run(capsys, "members", "revoke", "acme-co", "ada@acme.example")
    assert code == 1
    assert err.startswith("error: member_not_invited:")

    code, out, _ = run(capsys, "members", "revoke", "acme-co", member["member_id"], "--json")
    assert code == 0
    assert json.loads(out) == {"member_id": member["member_id"]}
    code, _, err = run(capsys, "members", "show", "acme-co", "carol@contractor.example")
    assert code == 1

    with context.services().sessions() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.member_id == member["member_id"])
        ).all()
        kinds = [(e.event_type, e.actor) for e in events]
    assert ("member.invited", "cli") in kinds
    assert ("member.invite_revoked", "cli") in kinds
