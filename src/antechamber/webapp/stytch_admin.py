"""The SDK backend's admin-section calls (`webapp.backend.Backend.admin_*`): each made with
the signed-in member's session through the SDK's `method_options` (Stytch's
`X-Stytch-Member-SessionJWT` header), so the server's RBAC decides.

A mixin of `stytch_backend.StytchBackend`, which provides `client` and `_call` (the SDK call
with its failures as `BackendError`s).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import pydantic
import stytch
from stytch.b2b.models.magic_links_email import InviteRequestOptions
from stytch.b2b.models.organizations import (
    UpdateRequestOptions as OrganizationUpdateRequestOptions,
)
from stytch.b2b.models.organizations_members import DeleteRequestOptions, SearchRequestOptions
from stytch.b2b.models.organizations_members import (
    UpdateRequestOptions as MemberUpdateRequestOptions,
)
from stytch.b2b.models.sessions import AuthorizationCheck
from stytch.shared.method_options import Authorization

from antechamber.webapp.backend import JSON, BackendError, Permission

T = TypeVar("T")
#: The server's answers to an authorization check it does not grant.
_REFUSED = ("session_authorization_error", "session_authorization_tenancy_error")


class StytchAdminCalls:
    """The `admin_*` half of `StytchBackend`."""

    client: stytch.B2BClient

    def _call(self, operation: Callable[[], T]) -> T:
        """Provided by `StytchBackend`."""
        raise NotImplementedError

    def admin_allowed(
        self, session_jwt: str, organization_id: str, checks: Sequence[Permission]
    ) -> frozenset[Permission]:
        # One server verdict per permission; a refusal is a 403 that changes nothing.
        return frozenset(
            (resource_id, action)
            for resource_id, action in checks
            if self._granted(
                session_jwt,
                AuthorizationCheck(
                    organization_id=organization_id, resource_id=resource_id, action=action
                ),
            )
        )

    def _granted(self, session_jwt: str, check: AuthorizationCheck) -> bool:
        try:
            self._call(
                lambda: self.client.sessions.authenticate(
                    session_jwt=session_jwt, authorization_check=check
                )
            )
        except BackendError as exc:
            if exc.error_type in _REFUSED:
                return False
            raise
        return True

    def admin_members(self, session_jwt: str, organization_id: str) -> list[JSON]:
        return self._search_as(session_jwt, organization_id, None)

    def admin_invite(
        self,
        session_jwt: str,
        organization_id: str,
        email_address: str,
        *,
        name: str,
        invited_by_member_id: str,
        redirect_url: str,
    ) -> JSON:
        response = self._call(
            lambda: self.client.magic_links.email.invite(
                organization_id=organization_id,
                email_address=email_address,
                name=name or None,
                invited_by_member_id=invited_by_member_id,
                invite_redirect_url=redirect_url,
                method_options=InviteRequestOptions(authorization=_as(session_jwt)),
            )
        )
        return _dump(response.member)

    def admin_revoke_invite(self, session_jwt: str, organization_id: str, member_id: str) -> None:
        # Stytch has no conditional delete: the status is read (with the session) just before.
        query = {
            "operator": "AND",
            "operands": [{"filter_name": "member_ids", "filter_value": [member_id]}],
        }
        found = self._search_as(session_jwt, organization_id, query)
        if not found or found[0].get("status") != "invited":
            raise BackendError("member_not_invited", 400, "The member has no open invitation.")
        self._call(
            lambda: self.client.organizations.members.delete(
                organization_id=organization_id,
                member_id=member_id,
                method_options=DeleteRequestOptions(authorization=_as(session_jwt)),
            )
        )

    def _search_as(self, session_jwt: str, organization_id: str, query: JSON | None) -> list[JSON]:
        response = self._call(
            lambda: self.client.organizations.members.search(
                organization_ids=[organization_id],
                limit=200,
                query=query,
                method_options=SearchRequestOptions(authorization=_as(session_jwt)),
            )
        )
        return [_dump(m) for m in response.members]

    def admin_update_member(
        self, session_jwt: str, organization_id: str, member_id: str, fields: JSON
    ) -> JSON:
        response = self._call(
            lambda: self.client.organizations.members.update(
                organization_id=organization_id,
                member_id=member_id,
                method_options=MemberUpdateRequestOptions(authorization=_as(session_jwt)),
                **fields,
            )
        )
        return _dump(response.member)

    def admin_update_organization(
        self, session_jwt: str, organization_id: str, fields: JSON
    ) -> JSON:
        response = self._call(
            lambda: self.client.organizations.update(
                organization_id=organization_id,
                method_options=OrganizationUpdateRequestOptions(authorization=_as(session_jwt)),
                **fields,
            )
        )
        return _dump(response.organization)


def _as(session_jwt: str) -> Authorization:
    """The member's session, sent as Stytch's X-Stytch-Member-SessionJWT header."""
    return Authorization(session_jwt=session_jwt)


def _dump(model: pydantic.BaseModel) -> JSON:
    data: JSON = model.model_dump(mode="json")
    return data
