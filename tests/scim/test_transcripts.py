"""Request transcripts in the shapes Okta and Microsoft Entra ID send, replayed in order.

Shapes from the directories' published SCIM integration guides: Okta's lookup by userName,
its `replace` without a path (deactivation, group rename carrying the group's own id), its
`members[value eq "…"]` removal; Entra ID's capitalised ops, `"active": "False"` as a string,
`add` to `emails[type eq "work"].value`, `remove` of members with a value list, the
enterprise extension and `excludedAttributes=members`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from antechamber.members.models import Member
from antechamber.scim.models import ScimGroupMember
from antechamber.services import Services
from tests.scim.conftest import GROUP, PATCH, USER, Scim

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def member(services: Services, email: str) -> Member:
    with services.sessions() as db:
        row = db.scalar(select(Member).where(Member.email_address == email))
        assert row is not None
        return row


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def test_okta_transcript(scim: Scim, services: Services) -> None:
    # Import / push: look the user up by userName, create it, read it back.
    found = ok(
        scim.get(
            "/Users",
            params={"filter": 'userName eq "ada@acme.example"', "startIndex": "1", "count": "100"},
        )
    )
    assert found["totalResults"] == 0
    created = ok(
        scim.post(
            "/Users",
            {
                "schemas": [USER],
                "userName": "ada@acme.example",
                "name": {"givenName": "Ada", "familyName": "Lovelace"},
                "emails": [{"primary": True, "value": "ada@acme.example", "type": "work"}],
                "displayName": "Ada Lovelace",
                "locale": "en-US",
                "externalId": "00u1abcd",
                "groups": [],
                "password": "1mj0lnir!",
                "active": True,
            },
        ),
        201,
    )
    uid = created["id"]
    assert "password" not in created
    assert ok(scim.get(f"/Users/{uid}"))["userName"] == "ada@acme.example"
    # Profile push: a full PUT.
    put = ok(
        scim.put(
            f"/Users/{uid}",
            {
                "schemas": [USER],
                "id": uid,
                "userName": "ada@acme.example",
                "name": {"givenName": "Ada", "familyName": "King"},
                "emails": [{"primary": True, "value": "ada@acme.example", "type": "work"}],
                "active": True,
            },
        )
    )
    assert put["name"]["familyName"] == "King"
    assert member(services, "ada@acme.example").name == "Ada King"

    # Groups: create, add a member, rename (Okta sends the group's id in the value), remove.
    group = ok(scim.post("/Groups", {"schemas": [GROUP], "displayName": "Eng", "members": []}), 201)
    gid = group["id"]
    ok(
        scim.patch(
            f"/Groups/{gid}",
            {
                "op": "add",
                "path": "members",
                "value": [{"value": uid, "display": "ada@acme.example"}],
            },
        )
    )
    assert [m["value"] for m in ok(scim.get(f"/Groups/{gid}"))["members"]] == [uid]
    assert [g["value"] for g in ok(scim.get(f"/Users/{uid}"))["groups"]] == [gid]
    renamed = ok(
        scim.patch(f"/Groups/{gid}", {"op": "replace", "value": {"id": gid, "displayName": "R&D"}})
    )
    assert renamed["displayName"] == "R&D"
    ok(scim.patch(f"/Groups/{gid}", {"op": "remove", "path": f'members[value eq "{uid}"]'}))
    assert "members" not in ok(scim.get(f"/Groups/{gid}"))

    # Deactivation: replace without a path.
    off = ok(scim.patch(f"/Users/{uid}", {"op": "replace", "value": {"active": False}}))
    assert off["active"] is False
    assert member(services, "ada@acme.example").status == "deactivated"
    assert scim.delete(f"/Groups/{gid}").status_code == 204
    assert scim.get(f"/Groups/{gid}").status_code == 404


def test_entra_transcript(scim: Scim, services: Services) -> None:
    assert (
        ok(scim.get("/Users", params={"filter": 'userName eq "grace@acme.example"'}))[
            "totalResults"
        ]
        == 0
    )
    created = ok(
        scim.post(
            "/Users",
            {
                "schemas": [USER, ENTERPRISE],
                "externalId": "grace",
                "userName": "grace@acme.example",
                "active": True,
                "displayName": "Grace Hopper",
                "emails": [{"primary": True, "type": "work", "value": "grace@acme.example"}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Grace Hopper", "familyName": "Hopper", "givenName": "Grace"},
                "title": "Rear Admiral",
                ENTERPRISE: {"employeeNumber": "1906", "department": "Navy"},
            },
        ),
        201,
    )
    uid = created["id"]
    assert created[ENTERPRISE]["department"] == "Navy"
    by_external = ok(scim.get("/Users", params={"filter": 'externalId eq "grace"'}))
    assert [u["id"] for u in by_external["Resources"]] == [uid]

    changed = ok(
        scim.patch(
            f"/Users/{uid}",
            {"op": "Replace", "path": "displayName", "value": "Amazing Grace"},
            {"op": "Add", "path": 'emails[type eq "work"].value', "value": "grace.h@acme.example"},
            {"op": "Replace", "path": "name.givenName", "value": "Grace B."},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": {"value": "boss"}},
        )
    )
    assert changed["displayName"] == "Amazing Grace"
    assert changed["emails"][0]["value"] == "grace.h@acme.example"
    assert changed[ENTERPRISE]["manager"]["value"] == "boss"
    assert member(services, "grace.h@acme.example").id

    group = ok(
        scim.post(
            "/Groups",
            {"schemas": [GROUP], "externalId": "g-1", "displayName": "Admins", "members": []},
        ),
        201,
    )
    gid = group["id"]
    ok(scim.patch(f"/Groups/{gid}", {"op": "Add", "path": "members", "value": [{"value": uid}]}))
    listed = ok(
        scim.get(
            "/Groups",
            params={"filter": 'displayName eq "Admins"', "excludedAttributes": "members"},
        )
    )
    assert [g["id"] for g in listed["Resources"]] == [gid]
    assert "members" not in listed["Resources"][0]
    assert "members" not in ok(scim.get(f"/Groups/{gid}", params={"excludedAttributes": "members"}))
    ok(scim.patch(f"/Groups/{gid}", {"op": "Remove", "path": "members", "value": [{"value": uid}]}))
    with services.sessions() as db:
        assert db.scalars(select(ScimGroupMember)).all() == []

    # Soft delete with the boolean as a string, then the hard delete.
    off = ok(scim.patch(f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "False"}))
    assert off["active"] is False
    assert member(services, "grace.h@acme.example").status == "deactivated"
    assert scim.delete(f"/Users/{uid}").status_code == 204
    assert scim.get(f"/Users/{uid}").status_code == 404


def test_patch_document_without_operations_is_refused(scim: Scim) -> None:
    uid = scim.create_user("ada@acme.example")["id"]
    r = scim.request("PATCH", f"/Users/{uid}", {"schemas": [PATCH]})
    assert r.status_code == 400
    assert r.json()["scimType"] in ("invalidValue", "invalidSyntax")
