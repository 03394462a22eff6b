"""How soon a revoked project secret stops authenticating API calls (projects.service).

In the process that revokes it: from the commit on, even when a check was reading the secret
at that moment. Elsewhere (the CLI, another `serve` worker): within VERIFIED_SECRET_SECONDS.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, event, select, update
from starlette.testclient import TestClient

from antechamber.ids import environment_of
from antechamber.projects import service as projects
from antechamber.projects.models import ProjectSecret
from antechamber.services import Services
from tests.conftest import Credentials

SEARCH = "/v1/b2b/organizations/search"
# A read (its unit of work takes no write lock, so a revocation can commit while it runs):
# 404 once authenticated, 401 if not.
READ = "/v1/b2b/organizations/organization-test-nowhere"


def secret_id_of(services: Services, project: Credentials) -> str:
    with services.sessions() as session:
        return session.scalars(
            select(ProjectSecret.id).where(ProjectSecret.project_id == project.project_id)
        ).one()


def revoke(services: Services, project: Credentials) -> None:
    secret_id = secret_id_of(services, project)
    env = environment_of(project.project_id)
    with services.scope(project.project_id, env, "test") as scope:
        projects.revoke_secret(scope, secret_id)


def test_a_revocation_by_another_process_applies_within_the_stated_time(
    api: TestClient, services: Services, project: Credentials, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    monkeypatch.setattr(projects.time, "monotonic", lambda: now[0])
    assert api.post(SEARCH, json={}).status_code == 200
    # Another process's revocation: the row changes, this process is not told.
    with services.sessions.begin() as session:
        session.execute(
            update(ProjectSecret)
            .where(ProjectSecret.project_id == project.project_id)
            .values(revoked_at=services.clock.now())
        )
    now[0] += projects.VERIFIED_SECRET_SECONDS
    assert api.post(SEARCH, json={}).status_code == 401


def test_a_check_reading_the_secret_as_it_is_revoked_does_not_bring_it_back(
    api: TestClient, services: Services, project: Credentials, engine: Engine
) -> None:
    revoked: list[bool] = []

    def revoke_meanwhile(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM project_secrets" in statement and not revoked:
            revoked.append(True)
            revoke(services, project)  # commits between the check's read and its answer

    event.listen(engine, "after_cursor_execute", revoke_meanwhile)
    try:
        api.get(READ)  # in flight when revoked: either answer is fair
    finally:
        event.remove(engine, "after_cursor_execute", revoke_meanwhile)
    assert revoked
    assert api.get(READ).status_code == 401


def test_a_secret_of_another_project_is_refused_once_known(
    api: TestClient, project: Credentials, other_project: Credentials
) -> None:
    assert api.post(SEARCH, json={}).status_code == 200
    stolen = (other_project.project_id, project.secret)
    assert api.post(SEARCH, json={}, auth=stolen).status_code == 401
