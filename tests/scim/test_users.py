"""The SCIM /Users endpoint: what a directory creates, finds, changes and removes."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from antechamber.delivery.models import OutboxMessage
from antechamber.members.models import Member
from antechamber.services import Services
from tests.scim.conftest import SCIM_JSON, USER, Scim


def member_by_email(services: Services, email: str) -> Member:
    with services.sessions() as db:
        found = db.scalar(select(Member).where(Member.email_address == email))
        assert found is not None
        return found


def test_create_user_makes_an_active_member_without_an_invite(
    scim: Scim, services: Services
) -> None:
    created = scim.create_user("Grace@Acme.example", externalId="00u1")
    assert created["schemas"] == [USER]
    assert created["userName"] == "Grace@Acme.example"
    assert created["active"] is True
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["location"].endswith(f"/Users/{created['id']}")
    member = member_by_email(services, "grace@acme.example")
    assert member.status == "active"
    with services.sessions() as db:  # no invitation, no email of any kind
        assert db.scalars(select(OutboxMessage)).all() == []
    assert member.name == "Ada Lovelace"
    assert member.external_id == "00u1"
    assert member.email_address_verified is False
    got = scim.get(f"/Users/{created['id']}")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith(SCIM_JSON)
    assert got.json()["emails"] == [
        {"value": "Grace@acme.example", "type": "work", "primary": True}  # domain lowercased
    ]


def test_filters_find_users_by_user_name_external_id_and_work_email(scim: Scim) -> None:
    ada = scim.create_user("ada@acme.example", externalId="ext-ada")
    scim.create_user("bob@acme.example", externalId="ext-bob")
    for expression in (
        'userName eq "ADA@acme.example"',
        'externalId eq "ext-ada"',
        'emails[type eq "work"].value eq "ada@acme.example"',
        'userName eq "ada@acme.example" and active eq true',
    ):
        r = scim.get("/Users", params={"filter": expression})
        assert r.status_code == 200, (expression, r.text)
        body = r.json()
        assert body["totalResults"] == 1, expression
        assert [u["id"] for u in body["Resources"]] == [ada["id"]]
    none = scim.get("/Users", params={"filter": 'userName eq "nobody@acme.example"'}).json()
    assert none["totalResults"] == 0
    assert none["Resources"] == []


def test_pagination_with_start_index_and_count(scim: Scim) -> None:
    ids = [scim.create_user(f"u{i}@acme.example")["id"] for i in range(5)]
    first = scim.get("/Users", params={"startIndex": 1, "count": 2}).json()
    assert first["totalResults"] == 5
    assert first["itemsPerPage"] == 2
    second = scim.get("/Users", params={"startIndex": 3, "count": 2}).json()
    third = scim.get("/Users", params={"startIndex": 5, "count": 2}).json()
    seen = [u["id"] for page in (first, second, third) for u in page["Resources"]]
    assert sorted(seen) == sorted(ids)
    assert third["startIndex"] == 5


def test_replace_changes_email_and_name(scim: Scim, services: Services) -> None:
    created = scim.create_user("ada@acme.example")
    body = {
        "schemas": [USER],
        "userName": "ada.l@acme.example",
        "name": {"formatted": "Ada King"},
        "emails": [{"value": "ada.l@acme.example", "type": "work", "primary": True}],
        "active": True,
    }
    r = scim.put(f"/Users/{created['id']}", body)
    assert r.status_code == 200, r.text
    assert r.json()["userName"] == "ada.l@acme.example"
    member = member_by_email(services, "ada.l@acme.example")
    assert member.name == "Ada King"


def test_duplicate_user_name_is_a_uniqueness_conflict(scim: Scim) -> None:
    scim.create_user("ada@acme.example")
    r = scim.post(
        "/Users",
        {
            "schemas": [USER],
            "userName": "ADA@acme.example",
            "emails": [{"value": "x@acme.example"}],
        },
    )
    assert r.status_code == 409
    assert r.json() == {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "409",
        "scimType": "uniqueness",
        "detail": "A user with this userName already exists.",
    }


def test_unknown_user_is_404_in_scim_error_format(scim: Scim) -> None:
    r = scim.get("/Users/scim-registration-test-nope")
    assert r.status_code == 404
    assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert r.json()["status"] == "404"


def test_user_without_an_email_is_refused(scim: Scim) -> None:
    r = scim.post("/Users", {"schemas": [USER], "userName": "not-an-email"})
    assert r.status_code == 400
    assert r.json()["scimType"] == "invalidValue"


def test_an_existing_member_is_taken_over_by_email(
    scim: Scim, services: Services, ada: Member
) -> None:
    created = scim.create_user("ada@acme.example")
    assert created["userName"] == "ada@acme.example"
    assert member_by_email(services, "ada@acme.example").id == ada.id


def test_a_value_of_the_wrong_type_is_invalid_value(scim: Scim) -> None:
    r = scim.post("/Users", {"schemas": [USER], "userName": 5, "emails": "x"})
    assert r.status_code == 400
    assert r.json()["scimType"] in ("invalidValue", "invalidSyntax")
    assert r.json()["detail"]


def test_other_operators_and_logic(scim: Scim) -> None:
    scim.create_user("ada@acme.example")
    scim.create_user("bob@acme.example")
    for expression, expected in (
        ('not (userName eq "ada@acme.example")', 1),
        ('userName eq "ada@acme.example" or userName eq "bob@acme.example"', 2),
        ('userName sw "ADA"', 1),
        ('userName ew "@acme.example"', 2),
        ('userName co "b@acme"', 1),
        ("externalId pr", 0),
        ('userName ne "ada@acme.example"', 1),
    ):
        r = scim.get("/Users", params={"filter": expression})
        assert r.status_code == 200, (expression, r.text)
        assert r.json()["totalResults"] == expected, expression


def test_a_member_deleted_through_the_api_takes_its_scim_user_along(
    scim: Scim, api: Any, services: Services, acme: Any
) -> None:
    created = scim.create_user("ada@acme.example")
    member = member_by_email(services, "ada@acme.example")
    assert api.delete(f"/v1/b2b/organizations/{acme.id}/members/{member.id}").status_code == 200
    assert scim.get(f"/Users/{created['id']}").status_code == 404
