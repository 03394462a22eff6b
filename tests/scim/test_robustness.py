"""Whatever a directory (or anyone holding a token) sends, the SCIM endpoint answers with a
resource or a SCIM error: never a 500, never a stack trace."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scim.conftest import PATCH, USER, Scim

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
attribute_names = st.sampled_from(
    [
        "userName",
        "name",
        "emails",
        "active",
        "externalId",
        "displayName",
        "groups",
        "id",
        "meta",
        "schemas",
        "phoneNumbers",
        "addresses",
        "roles",
        "title",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "members",
    ]
)
paths = st.sampled_from(
    [
        "active",
        "name.givenName",
        "emails",
        'emails[type eq "work"].value',
        "members",
        'members[value eq "x"]',
        "userName",
        "id",
        "meta.created",
        "nope",
        "",
        "emails[",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    ]
)
SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def scim_answer(response: Any) -> None:
    assert response.status_code < 500, response.text
    assert "Traceback" not in response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
        assert body["status"] == str(response.status_code)


@SETTINGS
@given(extra=st.dictionaries(attribute_names, json_values, max_size=5))
def test_creating_users_from_anything(scim: Scim, extra: dict[str, Any]) -> None:
    body = {"schemas": [USER], "userName": "fuzz@acme.example", **extra}
    r = scim.post("/Users", body)
    scim_answer(r)
    if r.status_code == 201:
        scim_answer(scim.delete(f"/Users/{r.json()['id']}"))


@SETTINGS
@given(
    operations=st.lists(
        st.fixed_dictionaries(
            {"op": st.sampled_from(["add", "Replace", "remove", "copy", 5])},
            optional={"path": paths, "value": json_values},
        ),
        max_size=3,
    )
)
def test_patching_a_user_with_anything(scim: Scim, operations: list[Any]) -> None:
    found = scim.get("/Users", params={"filter": 'userName eq "patch@acme.example"'}).json()
    if found["totalResults"]:
        uid = found["Resources"][0]["id"]
    else:
        uid = scim.create_user("patch@acme.example")["id"]
    scim_answer(
        scim.request("PATCH", f"/Users/{uid}", {"schemas": [PATCH], "Operations": operations})
    )


@SETTINGS
@given(expression=st.text(max_size=60))
def test_filtering_with_anything(scim: Scim, expression: str) -> None:
    scim_answer(scim.get("/Users", params={"filter": expression}))
    scim_answer(scim.get("/Groups", params={"filter": expression}))
