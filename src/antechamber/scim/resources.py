"""The SCIM 2.0 resource models (scim2-models) and the one translation of its refusals.

Parsing, serialisation, PATCH application and filter matching are scim2-models'; this module
fixes the models (User with the enterprise extension, Group), the policy the directories need
(Microsoft Entra ID's `remove` with a value and `add` to a filter that matches nothing, unknown
attributes dropped rather than refused) and maps every scim2-models refusal to a `ScimError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from pydantic import ValidationError
from scim2_models import (
    Context,
    EnterpriseUser,
    Error,
    Group,
    PatchOp,
    ResponseParameters,
    SCIMException,
    ScimFilter,
    ScimPolicy,
    User,
)

from antechamber.scim import errors

UserResource = User[EnterpriseUser]
GroupResource = Group
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

POLICY = ScimPolicy(
    unknown=ScimPolicy.Unknown.ignore,
    remove_value_as_filter=ScimPolicy.RemoveValue.apply,
    unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
)

_BY_SCIM_TYPE: dict[str, type[errors.ScimError]] = {
    "invalidFilter": errors.ScimInvalidFilter,
    "invalidSyntax": errors.ScimInvalidSyntax,
    "invalidValue": errors.ScimInvalidValue,
    "invalidPath": errors.ScimInvalidPath,
    "noTarget": errors.ScimNoTarget,
    "mutability": errors.ScimMutability,
    "uniqueness": errors.ScimUniqueness,
}
_BY_STATUS: dict[int, type[errors.ScimError]] = {
    404: errors.ScimNotFound,
    409: errors.ScimUniqueness,
    413: errors.ScimTooLarge,
    501: errors.ScimNotImplemented,
}

T = TypeVar("T")


def scim_error(exc: Exception) -> errors.ScimError:
    """The `ScimError` for a scim2-models refusal (a `SCIMException` or a validation error)."""
    if isinstance(exc, SCIMException):
        cls = _BY_SCIM_TYPE.get(exc.scim_type) or _BY_STATUS.get(exc.status)
        return (cls or errors.ScimInvalidValue)(_short(exc.detail))
    if isinstance(exc, ValidationError):
        found = Error.from_validation_errors(exc)
        first = found[0] if found else None
        scim_type = (first.scim_type if first else None) or "invalidValue"
        detail = (first.detail if first else None) or "A value in the request is not valid."
        return _BY_SCIM_TYPE.get(scim_type, errors.ScimInvalidValue)(_short(str(detail)))
    return errors.ScimInvalidValue()


def _short(text: str) -> str:
    # Details name the attribute and the rule; never a stack trace, and bounded.
    return text.splitlines()[0][:300] if text else "A value in the request is not valid."


@contextmanager
def translated() -> Iterator[None]:
    """Run scim2-models code under the directories' policy, its refusals as `ScimError`s."""
    try:
        with POLICY:
            yield
    except (SCIMException, ValidationError) as exc:
        raise scim_error(exc) from None
    except (ValueError, TypeError) as exc:  # a malformed value deep inside a model
        raise errors.ScimInvalidValue(_short(str(exc))) from None


def parse(model: type[T], payload: Any, context: Context) -> T:
    if not isinstance(payload, dict):
        raise errors.ScimInvalidSyntax("The request body must be a JSON object.")
    with translated():
        return model.model_validate(payload, scim_ctx=context)  # type: ignore[attr-defined,no-any-return]


def parse_patch(model: type[Any], payload: Any) -> PatchOp[Any]:
    if not isinstance(payload, dict):
        raise errors.ScimInvalidSyntax("The request body must be a PatchOp JSON object.")
    with translated():
        patch: PatchOp[Any] = PatchOp[model].model_validate(  # type: ignore[valid-type]
            payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
    return patch


def apply_patch(patch: PatchOp[Any], resource: Any) -> None:
    with translated():
        patch.patch(resource)


def stored(resource: Any) -> dict[str, Any]:
    """What is kept of a resource: its JSON as a query would return it, less `id`, `meta`
    and the attributes computed from other rows (a user's `groups`, a group's `members`)."""
    with translated():
        data: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    for key in ("id", "meta", "groups", "members"):
        data.pop(key, None)
    return data


def response_parameters(attributes: str | None, excluded: str | None) -> ResponseParameters[Any]:
    fields: dict[str, Any] = {}
    if attributes:
        fields["attributes"] = attributes
    if excluded:
        fields["excludedAttributes"] = excluded
    with translated():
        return ResponseParameters.model_validate(fields)


def dump(resource: Any, context: Context, parameters: ResponseParameters[Any] | None) -> Any:
    with translated():
        return resource.model_dump(scim_ctx=context, response_parameters=parameters)


def parse_filter(model: type[Any], text: str) -> ScimFilter[Any]:
    """The filter, parsed by scim2-models and bound to `model`; `ScimInvalidFilter` when it
    is not valid SCIM filter syntax, names an attribute the model lacks, or uses an operator
    this server does not evaluate (`SUPPORTED_OPERATORS`)."""
    if len(text) > 1000:
        raise errors.ScimInvalidFilter("The filter is longer than 1000 characters.")
    try:
        with POLICY:
            parsed: ScimFilter[Any] = ScimFilter[model](text)  # type: ignore[valid-type]
            _ = parsed.ast
    except (SCIMException, ValidationError, ValueError, TypeError) as exc:
        raise errors.ScimInvalidFilter(_short(str(exc))) from None
    _check_operators(parsed.ast)
    return parsed


SUPPORTED_OPERATORS = frozenset({"eq", "ne", "co", "sw", "ew", "pr"})


def _check_operators(node: Any) -> None:
    op = getattr(node, "op", None)
    name = str(getattr(op, "value", op)).lower() if op is not None else ""
    kind = type(node).__name__
    if kind == "Comparison" and name not in SUPPORTED_OPERATORS:
        raise errors.ScimInvalidFilter(
            f"The operator {name!r} is not supported; use eq, ne, co, sw, ew or pr."
        )
    for child in _children(node):
        _check_operators(child)


def _children(node: Any) -> list[Any]:
    kind = type(node).__name__
    if kind == "LogicalExpr":
        return list(node.terms)
    if kind == "Not":
        return [node.expr]
    if kind == "ValuePath":
        return [node.val_filter]
    return []


def matches(parsed: ScimFilter[Any], resource: Any) -> bool:
    with translated():
        return bool(parsed.match(resource))


def indexable_equalities(node: Any) -> list[tuple[str, str]]:
    """`(attribute, value)` for the `eq` comparisons every match must satisfy (the terms of a
    top-level `and`), so a lookup can narrow the candidates by an indexed column first.
    `emails[... value eq "x" ...]` gives `("emails.value", "x")`."""
    kind = type(node).__name__
    op = str(getattr(getattr(node, "op", None), "value", "")).lower()
    if kind == "LogicalExpr" and op == "and":
        return [pair for term in node.terms for pair in indexable_equalities(term)]
    if kind == "Comparison" and op == "eq" and isinstance(node.value, str):
        path = node.attr_path
        attr = path.attr if not path.sub_attr else f"{path.attr}.{path.sub_attr}"
        return [(attr, node.value)]
    if kind == "ValuePath":
        inner = indexable_equalities(node.val_filter)
        return [(f"{node.attr_path.attr}.{a}", v) for a, v in inner]
    return []


def first(values: list[T], keep: Callable[[T], bool]) -> T | None:
    return next((v for v in values if keep(v)), None)


def without_own_id(payload: Any, resource_id: str) -> Any:
    """A PatchOp without the resource's own `id` in the value of a path-less operation: Okta
    sends it (`replace` of a group with `{"id": …, "displayName": …}`); it writes nothing, so
    it is dropped rather than refused as a change of a read-only attribute."""
    if not isinstance(payload, dict):
        return payload
    ops = payload.get("Operations")
    if not isinstance(ops, list):
        return payload
    cleaned = []
    for op in ops:
        if (
            isinstance(op, dict)
            and not op.get("path")
            and isinstance(op.get("value"), dict)
            and op["value"].get("id") == resource_id
        ):
            op = {**op, "value": {k: v for k, v in op["value"].items() if k != "id"}}
        cleaned.append(op)
    return {**payload, "Operations": cleaned}
