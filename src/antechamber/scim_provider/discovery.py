"""The provider's self-description (RFC 7644 §4): /ServiceProviderConfig, /ResourceTypes,
/Schemas, built from the same scim2-models classes the resources are parsed with."""

from __future__ import annotations

from typing import Any

from scim2_models import Context, EnterpriseUser, Group, ResourceType, User
from scim2_models.resources.service_provider_config import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ETag,
    Filter,
    Patch,
    ServiceProviderConfig,
    Sort,
)

from antechamber.scim import resources
from antechamber.scim.users import MAX_COUNT

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


def service_provider_config(base: str) -> dict[str, Any]:
    config = ServiceProviderConfig(
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_COUNT),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="Bearer token",
                description="The connection's bearer token in the Authorization header.",
                primary=True,
            )
        ],
    )
    data: dict[str, Any] = config.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    data["meta"] = {
        "resourceType": "ServiceProviderConfig",
        "location": f"{base}/ServiceProviderConfig",
    }
    return data


def resource_types(base: str) -> list[dict[str, Any]]:
    found = []
    for model in (resources.UserResource, Group):
        item: dict[str, Any] = ResourceType.from_resource(model).model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
        item["meta"] = {
            "resourceType": "ResourceType",
            "location": f"{base}/ResourceTypes/{item['id']}",
        }
        found.append(item)
    return found


def schemas(base: str) -> list[dict[str, Any]]:
    found = []
    for model in (User, EnterpriseUser, Group):
        item: dict[str, Any] = model.to_schema().model_dump(
            scim_ctx=Context.RESOURCE_QUERY_RESPONSE
        )
        if model is User:
            _require_email(item)
        item["meta"] = {"resourceType": "Schema", "location": f"{base}/Schemas/{item['id']}"}
        found.append(item)
    return found


def list_response(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_SCHEMA],
        "totalResults": len(items),
        "startIndex": 1,
        "itemsPerPage": len(items),
        "Resources": items,
    }


def _require_email(schema: dict[str, Any]) -> None:
    """A user becomes a member, and a member has an email address: `emails` (with a value) is
    required here, unlike in RFC 7643's User schema. A userName that is an email address
    stands in for it (`scim.users`), so a directory keyed on email works either way."""
    for attribute in schema.get("attributes", []):
        if attribute.get("name") == "emails":
            attribute["required"] = True
            for sub in attribute.get("subAttributes", []):
                if sub.get("name") == "value":
                    sub["required"] = True
