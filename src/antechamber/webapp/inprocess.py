"""The in-process backend: Antechamber's domain functions, called in this process.

Each operation is one unit of work (`Services.scope`), committed before it returns, so the app
sees exactly what an SDK caller would. Domain refusals become `BackendError`s with the same
`error_type` the HTTP API would send, after the unit of work has rolled back (or kept what a
refusal must keep, such as a counted wrong code).

SMS codes come from `antechamber.otp.flows`, imported when first needed: a server built without
it answers `sms_unavailable` rather than failing to start.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from types import ModuleType
from urllib.parse import urlencode

from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from antechamber import devmode
from antechamber.api import serializers
from antechamber.clock import as_utc
from antechamber.discovery import service as discovery
from antechamber.email_auth import links as email_links
from antechamber.email_auth import otps as email_otps
from antechamber.emails import domain_of
from antechamber.errors import AntechamberError, TooManyRequests
from antechamber.ids import environment_of
from antechamber.keys import service as keys
from antechamber.magic_links import service as magic_links
from antechamber.members import service as members
from antechamber.organizations import domains
from antechamber.organizations import service as organizations
from antechamber.organizations.models import Organization
from antechamber.projects import service as projects
from antechamber.scope import Scope
from antechamber.services import Services
from antechamber.sessions import service as sessions
from antechamber.sessions.login import AuthResult
from antechamber.sso import discovery as sso_discovery
from antechamber.sso import flow as sso_flow
from antechamber.sso import public_tokens
from antechamber.totp import recovery
from antechamber.totp import service as totp
from antechamber.webapp.backend import (
    JSON,
    NOT_CONFIGURED,
    SMS_UNAVAILABLE,
    BackendError,
    Discovery,
    LoginStep,
    Membership,
    SessionCheck,
    TotpSetup,
)
from antechamber.webapp.inprocess_admin import InProcessAdminCalls

log = logging.getLogger("antechamber.webapp")

#: Who acts, in the audit trail, when the app calls the domain for a visitor.
ACTOR = "webapp"


def configured_project(services: Services) -> Callable[[], str | None]:
    """The project the app serves: `webapp_project_id`, else the demo project (development)."""
    settings = services.settings
    if settings.webapp_project_id:
        fixed = settings.webapp_project_id
        return lambda: fixed
    found: list[str] = []
    lock = threading.Lock()

    def demo() -> str | None:
        # The demo project may be made after the app (tests, a first `antechamber dev`);
        # look until it exists, then remember it.
        if found:
            return found[0]
        with lock:
            if not found:
                project = devmode.demo_project(services) if settings.dev else None
                if project is not None:
                    found.append(project.project_id)
        return found[0] if found else None

    return demo


class InProcessBackend(InProcessAdminCalls):
    """`webapp.backend.Backend` over this process's database."""

    def __init__(self, services: Services, project: Callable[[], str | None]) -> None:
        self.services = services
        self._project = project
        self._checked: set[str] = set()

    # -- identity ---------------------------------------------------------------------------

    def project_id(self) -> str:
        project_id = self._project()
        if not project_id:
            raise BackendError(
                NOT_CONFIGURED,
                503,
                "No project to sign into: start `antechamber dev` (demo project) or set "
                "ANTECHAMBER_WEBAPP_PROJECT_ID.",
            )
        if project_id not in self._checked:
            with self._unit(project_id) as scope:
                projects.get_customer_project(scope.db, project_id)
            self._checked.add(project_id)
        return project_id

    # -- discovery --------------------------------------------------------------------------

    def send_discovery_email(self, email_address: str, redirect_url: str) -> None:
        with self._unit() as scope:
            magic_links.send_discovery(
                scope, email_address=email_address, discovery_redirect_url=redirect_url
            )

    def authenticate_discovery_link(self, token: str) -> Discovery:
        with self._unit() as scope:
            login = discovery.authenticate_magic_link(scope, token)
            return _discovery(scope.db, login, scope.clock.now())

    def list_discovered(self, intermediate_session_token: str) -> Discovery:
        with self._unit() as scope:
            listing = discovery.list_organizations(
                scope, intermediate_session_token=intermediate_session_token
            )
            now = scope.clock.now()
            return Discovery(
                email_address=listing.email_address,
                organizations=[
                    serializers.discovered_organization(scope.db, d, now)
                    for d in listing.discovered_organizations
                ],
            )

    def create_organization(
        self, intermediate_session_token: str, *, name: str, mfa_policy: str
    ) -> LoginStep:
        # One unit of work: the organization, its first member and its domain setting land
        # together or not at all.
        with self._unit() as scope:
            result = discovery.create_organization(
                scope,
                intermediate_session_token,
                # Admins invite colleagues from any domain (the dashboard's admin section).
                {
                    "organization_name": name,
                    "mfa_policy": mfa_policy,
                    "email_invites": "ALL_ALLOWED",
                },
            )
            _allow_email_domain(scope, result.organization, result.member.email_address)
            return self._step(scope, result)

    def exchange(self, intermediate_session_token: str, organization_id: str) -> LoginStep:
        with self._unit() as scope:
            result = discovery.exchange(scope, intermediate_session_token, organization_id)
            return self._step(scope, result)

    # -- SMS codes ----------------------------------------------------------------------------

    def send_sms_code(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str,
        phone_number: str | None,
    ) -> None:
        flows = _otp_flows()
        with self._unit() as scope:
            flows.send_sms_otp(
                scope,
                organization_id=organization_id,
                member_id=member_id,
                mfa_phone_number=phone_number,
                intermediate_session_token=intermediate_session_token,
            )

    def authenticate_sms_code(
        self, *, organization_id: str, member_id: str, intermediate_session_token: str, code: str
    ) -> LoginStep:
        flows = _otp_flows()
        with self._unit() as scope:
            result = flows.authenticate_sms_otp(
                scope,
                organization_id=organization_id,
                member_id=member_id,
                code=code,
                intermediate_session_token=intermediate_session_token,
            )
            return self._step(scope, result)

    # -- authenticator apps (TOTP) and recovery codes -------------------------------------------

    def create_totp(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str = "",
        session_jwt: str = "",
    ) -> TotpSetup:
        with self._unit(actor=f"member:{member_id}") as scope:
            created = totp.create_totp(
                scope,
                organization_id=organization_id,
                member_id=member_id,
                intermediate_session_token=intermediate_session_token or None,
                session_jwt=session_jwt or None,
            )
            return TotpSetup(
                totp_registration_id=created.registration.id,
                secret=created.secret,
                qr_code=created.qr_code,
                recovery_codes=list(created.recovery_codes),
                uri=created.uri,
            )

    def authenticate_totp(
        self,
        *,
        organization_id: str,
        member_id: str,
        code: str,
        intermediate_session_token: str = "",
        session_jwt: str = "",
        make_default: bool = False,
        enroll: bool = False,
    ) -> LoginStep:
        with self._unit(actor=f"member:{member_id}") as scope:
            result = totp.authenticate_totp(
                scope,
                organization_id=organization_id,
                member_id=member_id,
                code=code,
                intermediate_session_token=intermediate_session_token or None,
                session_jwt=session_jwt or None,
                set_mfa_enrollment="enroll" if enroll else None,
                set_default_mfa=True if make_default else None,
            )
            return self._step(scope, result)

    def recover(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str,
        recovery_code: str,
    ) -> LoginStep:
        with self._unit(actor=f"member:{member_id}") as scope:
            recovered = recovery.recover(
                scope,
                organization_id=organization_id,
                member_id=member_id,
                recovery_code=recovery_code,
                intermediate_session_token=intermediate_session_token,
            )
            step = self._step(scope, recovered.result)
            return dataclasses.replace(
                step, recovery_codes_remaining=recovered.recovery_codes_remaining
            )

    def rotate_recovery_codes(self, organization_id: str, member_id: str) -> list[str]:
        with self._unit(actor=f"member:{member_id}") as scope:
            rotated = recovery.rotate_recovery_codes(
                scope, organization_id=organization_id, member_id=member_id
            )
            return list(rotated.recovery_codes)

    # -- members ------------------------------------------------------------------------------

    def get_member(self, organization_id: str, member_id: str) -> Membership:
        with self._unit() as scope:
            org = organizations.get_organization(scope, organization_id)
            member = members.get_member(scope, org, member_id=member_id)
            return Membership(
                serializers.organization(org),
                serializers.member(scope.db, member, scope.clock.now()),
            )

    def set_mfa_enrollment(
        self, organization_id: str, member_id: str, *, enrolled: bool
    ) -> Membership:
        with self._unit(actor=f"member:{member_id}") as scope:
            org = organizations.get_organization(scope, organization_id)
            member = members.update_member(scope, org, member_id, {"mfa_enrolled": enrolled})
            return Membership(
                serializers.organization(org),
                serializers.member(scope.db, member, scope.clock.now()),
            )

    # -- sessions -----------------------------------------------------------------------------

    # -- single sign-on ------------------------------------------------------------------------

    def sso_start_url(self, organization: str, redirect_url: str, pkce_code_challenge: str) -> str:
        # The public token is made on first use; the start itself is the browser's request.
        with self._unit() as scope:
            public_token = public_tokens.ensure(scope).id
            organizations.get_organization(scope, organization)
        return self._sso_start_url(
            public_token, "organization_id", organization, redirect_url, pkce_code_challenge
        )

    def sso_connection_start_url(
        self, connection_id: str, redirect_url: str, pkce_code_challenge: str
    ) -> str:
        with self._unit() as scope:
            public_token = public_tokens.ensure(scope).id
        return self._sso_start_url(
            public_token, "connection_id", connection_id, redirect_url, pkce_code_challenge
        )

    def _sso_start_url(
        self, public_token: str, locator: str, value: str, redirect_url: str, challenge: str
    ) -> str:
        query = urlencode(
            {
                "public_token": public_token,
                locator: value,
                "login_redirect_url": redirect_url,
                "signup_redirect_url": redirect_url,
                "pkce_code_challenge": challenge,
            }
        )
        return f"{self.services.settings.public_base_url}/v1/public/sso/start?{query}"

    def sso_connections_for_email(self, email_address: str) -> list[JSON]:
        # No client address in this scope: the app limits its visitors itself (webapp/sso.py).
        with self._unit() as scope:
            found = sso_discovery.connections_for_email(scope, email_address)
        return [dataclasses.asdict(c) for c in found]

    def authenticate_sso(self, token: str, pkce_code_verifier: str) -> LoginStep:
        with self._unit() as scope:
            result = sso_flow.authenticate(
                scope, token, pkce_code_verifier=pkce_code_verifier or None
            )
            return self._step(scope, result)

    def authenticate_session(self, session_jwt: str) -> SessionCheck:
        with self._unit() as scope:
            found = sessions.authenticate(scope, session_jwt=session_jwt)
            return SessionCheck(
                session_jwt=found.session_jwt,
                expires_at=as_utc(found.session.expires_at),
                organization=serializers.organization(found.organization),
                member=serializers.member(
                    scope.db, found.member, scope.clock.now(), found.organization
                ),
                factors=list(found.session.factors),
            )

    def revoke_session(self, session_jwt: str) -> None:
        with self._unit() as scope:
            sessions.revoke(scope, session_jwt=session_jwt)

    def jwks(self) -> list[JSON]:
        with self._unit() as scope:
            return keys.jwks(scope)

    # -- invitations, organization links and email codes ----------------------------------------

    def send_discovery_code(self, email_address: str) -> None:
        with self._unit() as scope:
            email_otps.discovery_send(scope, email_address=email_address)

    def authenticate_discovery_code(self, email_address: str, code: str) -> Discovery:
        with self._unit() as scope:
            login = email_otps.discovery_authenticate(scope, email_address=email_address, code=code)
            return _discovery(scope.db, login, scope.clock.now())

    def authenticate_link(self, token: str) -> LoginStep:
        with self._unit() as scope:
            return self._step(scope, email_links.authenticate_link(scope, token).result)

    # -- plumbing -----------------------------------------------------------------------------

    @contextmanager
    def _unit(self, project_id: str | None = None, *, actor: str = ACTOR) -> Iterator[Scope]:
        """One committed unit of work in the project; domain errors leave as `BackendError`.

        The translation happens outside the transaction, so the unit of work has already
        rolled back (or kept a counted failure) when the caller sees the error.
        """
        project = project_id or self.project_id()
        try:
            with self.services.scope(project, environment_of(project), actor) as scope:
                yield scope
        except AntechamberError as exc:
            retry = exc.retry_after if isinstance(exc, TooManyRequests) else None
            raise BackendError(
                exc.error_type,
                exc.status_code,
                exc.message,
                retry_after=retry,
                details={k: v for k, v in exc.details.items() if isinstance(v, str | int)},
            ) from exc
        except IntegrityError as exc:
            # A race with a concurrent request (two creates of one slug): retrying answers.
            raise BackendError("concurrent_change", 409, "Concurrent change; retry.") from exc
        except DataError as exc:
            raise BackendError("invalid_argument", 400, "A value is not allowed.") from exc

    def _step(self, scope: Scope, result: AuthResult) -> LoginStep:
        session = result.session
        member = result.member
        return LoginStep(
            organization=serializers.organization(result.organization),
            member=serializers.member(scope.db, member, scope.clock.now()),
            session_jwt=result.session_jwt,
            session_expires_at=as_utc(session.expires_at) if session is not None else None,
            intermediate_session_token=result.intermediate_session_token,
            mfa_required=result.mfa_required,
            primary_required=result.primary_required is not None,
            secondary_auth_initiated=result.secondary_auth_initiated,
            mfa_phone_number=member.mfa_phone_number or "",
            totp_registration_id=member.totp_registration_id or "",
        )


def _discovery(db: Session, login: discovery.DiscoveryLogin, now: datetime) -> Discovery:
    """What a redeemed discovery link or code gives the web app: the IST and the organizations."""
    return Discovery(
        email_address=login.email_address,
        organizations=[
            serializers.discovered_organization(db, d, now) for d in login.discovered_organizations
        ],
        intermediate_session_token=login.intermediate_session_token,
    )


def _allow_email_domain(scope: Scope, org: Organization, email: str) -> None:
    """What the tutorial does after creating an organization: people at the creator's email
    domain may find and join it (JIT RESTRICTED). Consumer webmail domains are skipped, as
    Stytch refuses them (`organization_settings_domain_too_common`)."""
    try:
        domain = domains.canonical_domain(domain_of(email))
    except AntechamberError:
        return
    if domains.is_common(domain):
        return
    # A savepoint: a refusal here must not take the new organization down with it.
    try:
        with scope.db.begin_nested():
            organizations.update_organization(
                scope,
                org.id,
                {"email_allowed_domains": [domain], "email_jit_provisioning": "RESTRICTED"},
            )
    except AntechamberError as exc:
        log.info("creator's domain not allowed for the new organization: %s", exc.error_type)
        scope.db.refresh(org)


def _otp_flows() -> ModuleType:
    """`antechamber.otp.flows`, or `sms_unavailable` on a server built without SMS codes."""
    try:
        return importlib.import_module("antechamber.otp.flows")
    except ImportError:
        raise BackendError(
            SMS_UNAVAILABLE, 503, "This server does not offer SMS one-time codes yet."
        ) from None
