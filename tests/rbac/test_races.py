"""Admins stepping down at once: the organization keeps one member who can manage roles.

On PostgreSQL the demotions really overlap (the organization row lock of
`rbac.service.ensure_role_manager` orders them); on SQLite BEGIN IMMEDIATE queues them.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from antechamber.members.models import Member
from antechamber.organizations.models import Organization
from antechamber.services import Services
from tests.conftest import Credentials, LiveServer
from tests.rbac.helpers import member_path, person

ADMINS = 8


def test_admins_demoting_themselves_at_once_leave_exactly_one(
    live_server: LiveServer, project: Credentials, services: Services, acme: Organization
) -> None:
    admins = [
        person(services, project.project_id, acme, f"admin{i}@acme.example", "stytch_admin")
        for i in range(ADMINS)
    ]
    start = threading.Barrier(ADMINS)

    def step_down(i: int) -> int:
        member, token, _ = admins[i]
        with httpx.Client(base_url=live_server.url, auth=project.auth, timeout=60) as client:
            start.wait()
            response = client.put(
                member_path(acme.id, member.id),
                json={"roles": []},
                headers={"X-Stytch-Member-Session": token},
            )
            return response.status_code

    with ThreadPoolExecutor(ADMINS) as pool:
        codes = sorted(pool.map(step_down, range(ADMINS)))
    assert codes == [200] * (ADMINS - 1) + [409]
    with services.sessions() as session:
        roles = session.scalars(select(Member.roles).where(Member.organization_id == acme.id))
        assert sum("stytch_admin" in r for r in roles) == 1
