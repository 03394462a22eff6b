"""The SCIM operations: one function per (method, endpoint), each one domain call."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from scim2_models import Context
from starlette.responses import Response

from antechamber.organizations.models import Organization
from antechamber.scim import connections, errors, groups, resources, users
from antechamber.scim.models import ScimConnection
from antechamber.scim_provider import discovery
from antechamber.scope import Scope

MEDIA_TYPE = "application/scim+json"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@dataclass(frozen=True)
class Request:
    method: str
    connection_id: str
    rest: str
    query: str
    token: str | None
    payload: Any

    @property
    def parts(self) -> list[str]:
        return [p for p in self.rest.split("/") if p]

    @property
    def operation(self) -> str:
        """What the request is, for the log: the method and the endpoint, never an id."""
        parts = self.parts
        kind = parts[0] if parts else ""
        if len(parts) > 1 and parts[1] != ".search":
            return f"{self.method} /{kind}/{{id}}"
        return f"{self.method} /{'/'.join(parts[:2])}"


@dataclass
class Outcome:
    connection: tuple[str, str] | None = None  # (connection id, project id) once authenticated
    resource_id: str = ""
    status: int = 0
    scim_type: str = ""


@dataclass
class _Query:
    values: dict[str, list[str]] = field(default_factory=dict)

    def get(self, name: str) -> str | None:
        for key, found in self.values.items():
            if key.lower() == name.lower() and found:
                return found[0]
        return None

    def integer(self, name: str) -> int | None:
        raw = self.get(name)
        if raw is None or raw == "":
            return None
        try:
            return int(raw)
        except ValueError:
            raise errors.ScimInvalidValue(f"{name} must be an integer.") from None


def dispatch(
    scope: Scope, connection: ScimConnection, request: Request, outcome: Outcome
) -> Response:
    parts = request.parts
    method = request.method
    base = connections.base_url(scope, connection).split("?")[0]
    if not parts:
        raise errors.ScimNotFound("Use the /Users, /Groups or discovery endpoints.")
    kind = parts[0]
    if kind == "ServiceProviderConfig" and len(parts) == 1:
        _only(method, "GET")
        return _json(discovery.service_provider_config(base))
    if kind == "ResourceTypes":
        _only(method, "GET")
        return _listed_or_one(discovery.resource_types(base), parts)
    if kind == "Schemas":
        _only(method, "GET")
        return _listed_or_one(discovery.schemas(base), parts)
    if kind == ".search" and len(parts) == 1:
        _only(method, "POST")
        return _search_all(scope, connection, _search_body(request.payload))
    if kind in ("Bulk", "Me"):
        raise errors.ScimNotImplemented(f"/{kind} is not supported.")
    if kind not in ("Users", "Groups") or len(parts) > 2:
        raise errors.ScimNotFound("No such SCIM endpoint.")
    org = connections.organization_of(scope, connection)
    query = _Query(parse_qs(request.query, keep_blank_values=True))
    if len(parts) == 1 or parts[1] == ".search":
        if len(parts) == 2:
            _only(method, "POST")
            return _search(scope, connection, kind, _search_body(request.payload))
        if method == "GET":
            return _search(scope, connection, kind, query)
        _only(method, "POST")
        return _create(scope, connection, org, kind, request.payload, outcome)
    return _one(scope, connection, org, kind, parts[1], method, request.payload, query, outcome)


def _create(
    scope: Scope,
    connection: ScimConnection,
    org: Organization,
    kind: str,
    payload: Any,
    outcome: Outcome,
) -> Response:
    if kind == "Users":
        user = users.create(scope, connection, org, payload)
        outcome.resource_id = user.id
        body = resources.dump(
            users.model_of(scope, connection, user), Context.RESOURCE_CREATION_RESPONSE, None
        )
    else:
        group = groups.create(scope, connection, org, payload)
        outcome.resource_id = group.id
        body = resources.dump(
            groups.model_of(scope, connection, group, with_members=True),
            Context.RESOURCE_CREATION_RESPONSE,
            None,
        )
    return _json(body, 201, location=body.get("meta", {}).get("location"))


def _one(
    scope: Scope,
    connection: ScimConnection,
    org: Organization,
    kind: str,
    object_id: str,
    method: str,
    payload: Any,
    query: _Query,
    outcome: Outcome,
) -> Response:
    outcome.resource_id = object_id[:80]
    params = resources.response_parameters(query.get("attributes"), query.get("excludedAttributes"))
    if method == "DELETE":
        if kind == "Users":
            users.delete_user(scope, connection, org, object_id)
        else:
            groups.delete_group(scope, connection, org, object_id)
        return Response(status_code=204)
    if kind == "Users":
        if method == "GET":
            row = users.get(scope, connection, object_id)
        elif method == "PUT":
            row = users.replace(scope, connection, org, object_id, payload)
        elif method == "PATCH":
            row = users.patch(scope, connection, org, object_id, payload)
        else:
            raise errors.ScimMethodNotAllowed()
        context = Context.RESOURCE_QUERY_RESPONSE if method == "GET" else _response_context(method)
        return _json(resources.dump(users.model_of(scope, connection, row), context, params))
    if method == "GET":
        group = groups.get(scope, connection, object_id)
    elif method == "PUT":
        group = groups.replace(scope, connection, org, object_id, payload)
    elif method == "PATCH":
        group = groups.patch(scope, connection, org, object_id, payload)
    else:
        raise errors.ScimMethodNotAllowed()
    context = Context.RESOURCE_QUERY_RESPONSE if method == "GET" else _response_context(method)
    model = groups.model_of(scope, connection, group, with_members=_wants_members(params))
    return _json(resources.dump(model, context, params))


def _search(scope: Scope, connection: ScimConnection, kind: str, query: _Query) -> Response:
    params = resources.response_parameters(query.get("attributes"), query.get("excludedAttributes"))
    start, count = query.integer("startIndex"), query.integer("count")
    items: list[Any]
    if kind == "Users":
        page = users.search(scope, connection, query.get("filter"), start, count)
        total, first = page.total, page.start_index
        items = users.models_of(scope, connection, page.rows)
    else:
        gpage = groups.search(
            scope,
            connection,
            query.get("filter"),
            start,
            count,
            with_members=_wants_members(params),
        )
        total, first = gpage.total, gpage.start_index
        members = _wants_members(params)
        items = [groups.model_of(scope, connection, g, with_members=members) for g in gpage.rows]
    dumped = [resources.dump(i, Context.SEARCH_RESPONSE, params) for i in items]
    return _json(
        {
            "schemas": [discovery.LIST_SCHEMA],
            "totalResults": total,
            "startIndex": first,
            "itemsPerPage": len(dumped),
            "Resources": dumped,
        }
    )


def _search_all(scope: Scope, connection: ScimConnection, query: _Query) -> Response:
    """POST /.search at the base URL (RFC 7644 §3.4.3): users, then groups. A filter must
    hold for the resource type it is checked against; one naming an attribute that only one
    type has is refused as invalidFilter by the other's parser, so such a search is sent to
    /Users/.search or /Groups/.search instead."""
    params = resources.response_parameters(query.get("attributes"), query.get("excludedAttributes"))
    start = max(1, query.integer("startIndex") or 1)
    count = query.integer("count")
    size = users.page_size(count)
    found_users = users.search(scope, connection, query.get("filter"), 1, users.MAX_COUNT)
    members = _wants_members(params)
    found_groups = groups.search(
        scope, connection, query.get("filter"), 1, users.MAX_COUNT, with_members=members
    )
    items: list[Any] = users.models_of(scope, connection, found_users.rows)
    items += [
        groups.model_of(scope, connection, g, with_members=members) for g in found_groups.rows
    ]
    page = items[start - 1 : start - 1 + size]
    dumped = [resources.dump(i, Context.SEARCH_RESPONSE, params) for i in page]
    return _json(
        {
            "schemas": [discovery.LIST_SCHEMA],
            "totalResults": found_users.total + found_groups.total,
            "startIndex": start,
            "itemsPerPage": len(dumped),
            "Resources": dumped,
        }
    )


def _search_body(payload: Any) -> _Query:
    """A POST …/.search body (RFC 7644 §3.4.3) as the query parameters it stands for."""
    if not isinstance(payload, dict):
        raise errors.ScimInvalidSyntax("A search request must be a JSON object.")
    values: dict[str, list[str]] = {}
    for key in ("filter", "startIndex", "count"):
        if payload.get(key) is not None:
            values[key] = [str(payload[key])]
    for key in ("attributes", "excludedAttributes"):
        found = payload.get(key)
        if isinstance(found, list):
            values[key] = [",".join(str(v) for v in found)]
        elif isinstance(found, str):
            values[key] = [found]
    return _Query(values)


def _wants_members(params: Any) -> bool:
    excluded = [str(a).lower() for a in (getattr(params, "excluded_attributes", None) or [])]
    attributes = [str(a).lower() for a in (getattr(params, "attributes", None) or [])]
    if any(a.endswith("members") or "members." in a for a in excluded):
        return False
    return not attributes or any("members" in a for a in attributes)


def _response_context(method: str) -> Context:
    return (
        Context.RESOURCE_REPLACEMENT_RESPONSE
        if method == "PUT"
        else Context.RESOURCE_PATCH_RESPONSE
    )


def _listed_or_one(items: list[dict[str, Any]], parts: list[str]) -> Response:
    if len(parts) == 1:
        return _json(discovery.list_response(items))
    wanted = "/".join(parts[1:])
    for item in items:
        if item.get("id") == wanted:
            return _json(item)
    raise errors.ScimNotFound(f"{parts[0]}/{wanted[:80]} not found.")


def _only(method: str, allowed: str) -> None:
    if method != allowed:
        raise errors.ScimMethodNotAllowed()


def _json(body: Any, status: int = 200, *, location: str | None = None) -> Response:
    headers = {"Location": location} if location else None
    return Response(json.dumps(body), status_code=status, media_type=MEDIA_TYPE, headers=headers)
