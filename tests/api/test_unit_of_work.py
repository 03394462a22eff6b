"""A request's unit of work commits before its response is sent."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from tests.api.test_envelope import assert_error


def test_a_request_whose_commit_fails_does_not_answer_success(
    api: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_commit(self: Session) -> None:
        raise RuntimeError("the database went away at commit")

    monkeypatch.setattr(Session, "commit", failing_commit)
    response = api.post("/v1/b2b/organizations", json={"organization_name": "Acme"})
    assert_error(response, 500, "internal_server_error")


def test_what_a_request_wrote_is_visible_to_the_next_one(api: TestClient) -> None:
    for i in range(5):
        created = api.post("/v1/b2b/organizations", json={"organization_name": f"T{i}"}).json()
        oid = created["organization"]["organization_id"]
        assert api.get(f"/v1/b2b/organizations/{oid}").status_code == 200
