"""The in-process backend's admin-section calls (`webapp.backend.Backend.admin_*`): each one
unit of work that acts as the signed-in member only once `rbac.acting.act_as_member` has
checked their session and permissions, as the API does for a call carrying
`X-Stytch-Member-SessionJWT`; so the server's RBAC decides, and a refusal changes nothing.

A mixin of `inprocess.InProcessBackend`, which provides `_unit` (a committed unit of work whose
domain errors leave as `BackendError`s).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager

from antechamber.api import serializers
from antechamber.email_auth import links as email_links
from antechamber.members import service as members
from antechamber.organizations import service as organizations
from antechamber.rbac import acting, needs
from antechamber.rbac import errors as rbac_errors
from antechamber.rbac import service as rbac
from antechamber.rbac.needs import Need
from antechamber.scope import Scope
from antechamber.sessions import service as sessions
from antechamber.webapp.backend import JSON, Permission


class InProcessAdminCalls:
    """The `admin_*` half of `InProcessBackend`."""

    def _unit(self) -> AbstractContextManager[Scope]:
        """Provided by `InProcessBackend`."""
        raise NotImplementedError

    def admin_allowed(
        self, session_jwt: str, organization_id: str, checks: Sequence[Permission]
    ) -> frozenset[Permission]:
        # The verdict of `sessions.authenticate`'s authorization_check (rbac.authorize),
        # for every check at once; reads only.
        with self._unit() as scope:
            live, member, org = sessions.resolve(scope, session_jwt=session_jwt)
            granted: set[Permission] = set()
            for resource_id, action in checks:
                try:
                    rbac.authorize(
                        scope,
                        org,
                        member,
                        session_factors=live.factors,
                        organization_id=organization_id,
                        resource_id=resource_id,
                        action=action,
                    )
                except (
                    rbac_errors.SessionAuthorizationError,
                    rbac_errors.SessionAuthorizationTenancyError,
                ):
                    continue
                granted.add((resource_id, action))
            return frozenset(granted)

    def admin_members(self, session_jwt: str, organization_id: str) -> list[JSON]:
        with self._unit() as unit:
            scope = self._acting(unit, session_jwt, organization_id, needs.member_search())
            page = members.search_members(scope, [organization_id], None, None, 200)
            now = scope.clock.now()
            return [serializers.member(scope.db, m, now) for m in page.members]

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
        # As the API's invite route with a member's session: stytch.member: create.
        with self._unit() as unit:
            scope = self._acting(unit, session_jwt, organization_id, needs.invite({}))
            sent = email_links.invite(
                scope,
                organization_id=organization_id,
                email_address=email_address,
                name=name or None,
                invited_by_member_id=invited_by_member_id,
                invite_redirect_url=redirect_url,
            )
            return serializers.member(scope.db, sent.member, scope.clock.now())

    def admin_revoke_invite(self, session_jwt: str, organization_id: str, member_id: str) -> None:
        # The permissions the SDK backend's look-up and delete need (search, then delete);
        # the status check and the delete are one unit of work here.
        with self._unit() as unit:
            scope = self._acting(
                unit,
                session_jwt,
                organization_id,
                needs.all_of(needs.member_search(), needs.member_delete()),
                target_member_id=member_id,
            )
            email_links.revoke_invite(scope, organization_id=organization_id, member_id=member_id)

    def admin_update_member(
        self, session_jwt: str, organization_id: str, member_id: str, fields: JSON
    ) -> JSON:
        with self._unit() as unit:
            scope = self._acting(
                unit,
                session_jwt,
                organization_id,
                needs.member_update(fields),
                target_member_id=member_id,
            )
            org = organizations.get_organization(scope, organization_id)
            member = members.update_member(scope, org, member_id, fields)
            return serializers.member(scope.db, member, scope.clock.now())

    def admin_update_organization(
        self, session_jwt: str, organization_id: str, fields: JSON
    ) -> JSON:
        with self._unit() as unit:
            scope = self._acting(
                unit, session_jwt, organization_id, needs.organization_update(fields)
            )
            return serializers.organization(
                organizations.update_organization(scope, organization_id, fields)
            )

    @staticmethod
    def _acting(
        unit: Scope,
        session_jwt: str,
        organization_id: str,
        wanted: Sequence[Need],
        *,
        target_member_id: str | None = None,
    ) -> Scope:
        """The unit of work acting as the session's member, once the server's RBAC granted
        `wanted` (as the API does for a call carrying X-Stytch-Member-SessionJWT)."""
        return acting.act_as_member(
            unit,
            session_token=None,
            session_jwt=session_jwt,
            organization_ids=[organization_id],
            needs=wanted,
            target_member_id=target_member_id,
        )
