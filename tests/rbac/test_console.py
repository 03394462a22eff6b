"""The console's RBAC policy page: view, edit (checked, audited), refusals keep the text."""

from __future__ import annotations

import json

from antechamber.audit import service as audit
from antechamber.services import Services
from tests.admin.conftest import Console
from tests.conftest import Credentials
from tests.rbac.helpers import DOCUMENTS_POLICY


def test_view_and_edit_the_policy(
    console: Console, project: Credentials, services: Services
) -> None:
    path = f"/admin/projects/{project.project_id}/rbac"
    page = console.get(path)
    assert page.status_code == 200
    assert "stytch_admin" in page.text
    assert "update.settings.roles" in page.text

    saved = console.post(
        path, {"policy_json": json.dumps(DOCUMENTS_POLICY)}, csrf=console.csrf(path)
    )
    assert saved.status_code == 303
    page = console.get(path)
    assert "reader" in page.text
    assert "documents" in page.text
    with services.sessions() as session:
        events = audit.list_events(
            session, event_type="rbac.policy_updated", project_id=project.project_id
        )
    assert len(events) == 1
    assert events[0].actor.startswith("operator:")
    assert events[0].details["roles_added"] == ["reader"]


def test_an_invalid_policy_is_shown_next_to_the_field_and_changes_nothing(
    console: Console, project: Credentials
) -> None:
    path = f"/admin/projects/{project.project_id}/rbac"
    typed = json.dumps({"roles": [], "resources": []})
    refused = console.post(path, {"policy_json": typed}, csrf=console.csrf(path))
    assert refused.status_code == 400
    assert "There is a problem" in refused.text
    assert "default roles cannot be removed" in refused.text
    assert 'id="policy_json-error"' in refused.text
    not_json = console.post(path, {"policy_json": "{oops"}, csrf=console.csrf(path))
    assert not_json.status_code == 400
    assert "not JSON" in not_json.text
    assert "reader" not in console.get(path).text


def test_the_org_form_offers_the_policys_roles_for_required_mfa(
    console: Console, project: Credentials, services: Services
) -> None:
    from tests.rbac.helpers import set_policy

    set_policy(services, project.project_id, DOCUMENTS_POLICY)
    form = console.get(f"/admin/projects/{project.project_id}/orgs/new")
    assert 'id="mfa_required_roles-reader"' in form.text
