"""The SDK backend: any Stytch-compatible server through the official `stytch` Python SDK.

`antechamber webapp --backend stytch --base-url … --project-id … --secret …` runs the app
against a remote Antechamber (or Stytch itself). Install the SDK with the `webapp-stytch` extra.

The SDK is built with `environment=<base URL>` (it accepts any origin there, plain http
included; `custom_base_url` would demand https) and a `requests` session whose every request
has a timeout, so a server that stops answering cannot hold the app's threads forever.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlencode

import pydantic
import requests
import stytch
from stytch.core.response_base import StytchError

from antechamber.organizations.domains import is_common
from antechamber.webapp.backend import (
    JSON,
    UNREACHABLE,
    BackendError,
    Discovery,
    LoginStep,
    Membership,
    SessionCheck,
    TotpSetup,
)
from antechamber.webapp.stytch_admin import StytchAdminCalls

log = logging.getLogger("antechamber.webapp")

T = TypeVar("T")
DEFAULT_TIMEOUT_SECONDS = 10.0


class _TimeoutSession(requests.Session):
    """A `requests` session that never waits without limit (the SDK sets no timeout)."""

    def __init__(self, timeout: float) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


class StytchBackend(StytchAdminCalls):
    """`webapp.backend.Backend` over the Stytch B2B HTTP API."""

    def __init__(
        self,
        project_id: str,
        secret: str,
        base_url: str,
        *,
        timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
        public_token: str | None = None,
    ) -> None:
        self._project_id = project_id
        self.public_token = public_token
        self.base_url = base_url.rstrip("/")
        # The SDK's session, also for the one frontend-SDK call the backend SDK lacks.
        self._http = _TimeoutSession(timeout_seconds)
        # "test" and "live" name Stytch's own servers; anything else is a base URL.
        self.client = stytch.B2BClient(
            project_id,
            secret,
            environment=base_url if base_url in ("test", "live") else self.base_url,
            suppress_warnings=True,
            sync_session=self._http,
        )

    def project_id(self) -> str:
        return self._project_id

    # -- discovery --------------------------------------------------------------------------

    def send_discovery_email(self, email_address: str, redirect_url: str) -> None:
        self._call(
            lambda: self.client.magic_links.email.discovery.send(
                email_address=email_address, discovery_redirect_url=redirect_url
            )
        )

    def authenticate_discovery_link(self, token: str) -> Discovery:
        response = self._call(
            lambda: self.client.magic_links.discovery.authenticate(
                discovery_magic_links_token=token
            )
        )
        return Discovery(
            email_address=response.email_address,
            organizations=[_dump(d) for d in response.discovered_organizations],
            intermediate_session_token=response.intermediate_session_token,
        )

    def list_discovered(self, intermediate_session_token: str) -> Discovery:
        response = self._call(
            lambda: self.client.discovery.organizations.list(
                intermediate_session_token=intermediate_session_token
            )
        )
        return Discovery(
            email_address=response.email_address,
            organizations=[_dump(d) for d in response.discovered_organizations],
        )

    def create_organization(
        self, intermediate_session_token: str, *, name: str, mfa_policy: str
    ) -> LoginStep:
        created = self._call(
            lambda: self.client.discovery.organizations.create(
                intermediate_session_token=intermediate_session_token,
                organization_name=name,
                mfa_policy=mfa_policy,
                email_allowed_domains=[],
                # Admins invite colleagues from any domain (the dashboard's admin section);
                # Stytch's default is NOT_ALLOWED once auth settings are given.
                email_invites="ALL_ALLOWED",
            )
        )
        step = _step(created)
        organization = self._allow_email_domain(
            created.organization.organization_id, created.member.email_address
        )
        if organization is None:
            return step
        return dataclasses.replace(step, organization=organization)

    def exchange(self, intermediate_session_token: str, organization_id: str) -> LoginStep:
        response = self._call(
            lambda: self.client.discovery.intermediate_sessions.exchange(
                intermediate_session_token=intermediate_session_token,
                organization_id=organization_id,
            )
        )
        return _step(response)

    # -- SMS codes ----------------------------------------------------------------------------

    def send_sms_code(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str,
        phone_number: str | None,
    ) -> None:
        self._call(
            lambda: self.client.otps.sms.send(
                organization_id=organization_id,
                member_id=member_id,
                mfa_phone_number=phone_number,
                intermediate_session_token=intermediate_session_token,
            )
        )

    def authenticate_sms_code(
        self, *, organization_id: str, member_id: str, intermediate_session_token: str, code: str
    ) -> LoginStep:
        response = self._call(
            lambda: self.client.otps.sms.authenticate(
                organization_id=organization_id,
                member_id=member_id,
                code=code,
                intermediate_session_token=intermediate_session_token,
            )
        )
        return _authenticated(response)

    # -- authenticator apps (TOTP) and recovery codes -------------------------------------------

    def create_totp(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str = "",
        session_jwt: str = "",
    ) -> TotpSetup:
        response = self._call(
            lambda: self.client.totps.create(
                organization_id=organization_id,
                member_id=member_id,
                intermediate_session_token=intermediate_session_token or None,
                session_jwt=session_jwt or None,
            )
        )
        return TotpSetup(
            totp_registration_id=response.totp_registration_id,
            secret=response.secret,
            qr_code=response.qr_code,
            recovery_codes=list(response.recovery_codes),
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
        response = self._call(
            lambda: self.client.totps.authenticate(
                organization_id=organization_id,
                member_id=member_id,
                code=code,
                intermediate_session_token=intermediate_session_token or None,
                session_jwt=session_jwt or None,
                set_mfa_enrollment="enroll" if enroll else None,
                set_default_mfa=True if make_default else None,
            )
        )
        return _authenticated(response)

    def recover(
        self,
        *,
        organization_id: str,
        member_id: str,
        intermediate_session_token: str,
        recovery_code: str,
    ) -> LoginStep:
        response = self._call(
            lambda: self.client.recovery_codes.recover(
                organization_id=organization_id,
                member_id=member_id,
                recovery_code=recovery_code,
                intermediate_session_token=intermediate_session_token,
            )
        )
        return dataclasses.replace(
            _authenticated(response), recovery_codes_remaining=response.recovery_codes_remaining
        )

    def rotate_recovery_codes(self, organization_id: str, member_id: str) -> list[str]:
        response = self._call(
            lambda: self.client.recovery_codes.rotate(
                organization_id=organization_id, member_id=member_id
            )
        )
        return list(response.recovery_codes)

    # -- members ------------------------------------------------------------------------------

    def get_member(self, organization_id: str, member_id: str) -> Membership:
        response = self._call(
            lambda: self.client.organizations.members.get(
                organization_id=organization_id, member_id=member_id
            )
        )
        return Membership(_dump(response.organization), _dump(response.member))

    def set_mfa_enrollment(
        self, organization_id: str, member_id: str, *, enrolled: bool
    ) -> Membership:
        response = self._call(
            lambda: self.client.organizations.members.update(
                organization_id=organization_id, member_id=member_id, mfa_enrolled=enrolled
            )
        )
        return Membership(_dump(response.organization), _dump(response.member))

    # -- sessions -----------------------------------------------------------------------------

    # -- single sign-on ------------------------------------------------------------------------

    def sso_start_url(self, organization: str, redirect_url: str, pkce_code_challenge: str) -> str:
        """Needs the project's public token, which the SDK cannot read (a browser-side
        value): give it as `public_token`."""
        return self._sso_start_url(
            "organization_id", organization, redirect_url, pkce_code_challenge
        )

    def sso_connection_start_url(
        self, connection_id: str, redirect_url: str, pkce_code_challenge: str
    ) -> str:
        return self._sso_start_url(
            "connection_id", connection_id, redirect_url, pkce_code_challenge
        )

    def _sso_start_url(self, locator: str, value: str, redirect_url: str, challenge: str) -> str:
        query = urlencode(
            {
                "public_token": self._public_token(),
                locator: value,
                "login_redirect_url": redirect_url,
                "signup_redirect_url": redirect_url,
                "pkce_code_challenge": challenge,
            }
        )
        return f"{self.base_url}/v1/public/sso/start?{query}"

    def sso_connections_for_email(self, email_address: str) -> list[JSON]:
        """The frontend SDK's `sso.discoverConnections` (`GET /sdk/v1/b2b/sso/discovery/
        connections`), which the backend SDK does not have: asked as the frontend SDK asks,
        with the public token as HTTP Basic `public_token:public_token`."""
        token = self._public_token()
        with _translated():
            response = self._http.get(
                f"{self.base_url}/sdk/v1/b2b/sso/discovery/connections",
                params={"email_address": email_address},
                auth=(token, token),
            )
            body = response.json()
        if not isinstance(body, dict):
            raise BackendError(UNREACHABLE, 502, "The server's answer was not understood.")
        if response.status_code >= 400:
            raise BackendError(
                str(body.get("error_type") or "unknown_error"),
                response.status_code,
                str(body.get("error_message") or ""),
            )
        data = body.get("data")
        found = data.get("connections") if isinstance(data, dict) else None
        if not isinstance(found, list) or not all(isinstance(c, dict) for c in found):
            raise BackendError(UNREACHABLE, 502, "The server's answer was not understood.")
        return [
            {k: str(c.get(k, "")) for k in ("connection_id", "display_name", "identity_provider")}
            for c in found
        ]

    def _public_token(self) -> str:
        if not self.public_token:
            raise BackendError(
                "sso_unavailable",
                503,
                "Single sign-on needs the project's public token: run the app with one.",
            )
        return self.public_token

    def authenticate_sso(self, token: str, pkce_code_verifier: str) -> LoginStep:
        response = self._call(
            lambda: self.client.sso.authenticate(
                sso_token=token, pkce_code_verifier=pkce_code_verifier or None
            )
        )
        return _step(response)

    def authenticate_session(self, session_jwt: str) -> SessionCheck:
        response = self._call(lambda: self.client.sessions.authenticate(session_jwt=session_jwt))
        session = response.member_session
        return SessionCheck(
            session_jwt=response.session_jwt,
            expires_at=_utc(session.expires_at),
            organization=_dump(response.organization),
            member=_dump(response.member),
            factors=[_dump(f) for f in session.authentication_factors],
        )

    def revoke_session(self, session_jwt: str) -> None:
        self._call(lambda: self.client.sessions.revoke(session_jwt=session_jwt))

    def jwks(self) -> list[JSON]:
        response = self._call(lambda: self.client.sessions.get_jwks(project_id=self._project_id))
        return [_dump(key) for key in response.keys]

    # -- plumbing -----------------------------------------------------------------------------

    # -- invitations, organization links and email codes ----------------------------------------

    def send_discovery_code(self, email_address: str) -> None:
        self._call(lambda: self.client.otps.email.discovery.send(email_address=email_address))

    def authenticate_discovery_code(self, email_address: str, code: str) -> Discovery:
        response = self._call(
            lambda: self.client.otps.email.discovery.authenticate(
                email_address=email_address, code=code
            )
        )
        return Discovery(
            email_address=response.email_address,
            organizations=[_dump(d) for d in response.discovered_organizations],
            intermediate_session_token=response.intermediate_session_token,
        )

    def authenticate_link(self, token: str) -> LoginStep:
        return _step(
            self._call(lambda: self.client.magic_links.authenticate(magic_links_token=token))
        )

    def _allow_email_domain(self, organization_id: str, email: str) -> JSON | None:
        """The tutorial's second step: the creator's domain may join (JIT RESTRICTED).

        Webmail domains are skipped before asking (the server would refuse them with
        `organization_settings_domain_too_common`, which is ignored too, as its list may be
        longer). Any other refusal leaves the new organization as created: it exists, and
        the login goes on. Returns the updated organization, or None if unchanged.
        """
        domain = email.rpartition("@")[2].lower()
        if not domain or is_common(domain):
            return None
        try:
            updated = self._call(
                lambda: self.client.organizations.update(
                    organization_id=organization_id,
                    email_allowed_domains=[domain],
                    email_jit_provisioning="RESTRICTED",
                )
            )
        except BackendError as exc:
            level = logging.INFO if exc.status_code < 500 else logging.WARNING
            log.log(level, "creator's domain not allowed for the new organization: %s", exc)
            return None
        return _dump(updated.organization)

    def _call(self, operation: Callable[[], T]) -> T:
        with _translated():
            return operation()


@contextmanager
def _translated() -> Iterator[None]:
    """SDK and transport failures as `BackendError`s (see the module docstring)."""
    try:
        yield
    except StytchError as exc:
        details = exc.details
        raise BackendError(
            details.error_type or "unknown_error",
            int(details.status_code),
            details.error_message,
            retry_after=None,
        ) from exc
    except requests.RequestException as exc:
        log.warning("authentication server unreachable: %s", type(exc).__name__)
        raise BackendError(UNREACHABLE, 502, "The server could not be reached.") from exc
    except (pydantic.ValidationError, ValueError) as exc:
        # A 2xx answer that is not Stytch's shape: the base URL points at something else.
        log.warning("authentication server answered an unexpected shape: %s", type(exc).__name__)
        raise BackendError(UNREACHABLE, 502, "The server's answer was not understood.") from exc


def _dump(model: pydantic.BaseModel) -> JSON:
    data: JSON = model.model_dump(mode="json")
    return data


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _authenticated(response: Any) -> LoginStep:
    """A second-factor answer (SMS, TOTP, recovery code) as a `LoginStep` with its session."""
    session = response.member_session
    return LoginStep(
        organization=_dump(response.organization),
        member=_dump(response.member),
        session_jwt=response.session_jwt,
        session_expires_at=_utc(session.expires_at) if session is not None else None,
    )


def _step(response: Any) -> LoginStep:
    """A discovery create or exchange answer (stytch-b2b-api.md §2.8) as a `LoginStep`."""
    mfa = response.mfa_required
    options = mfa.member_options if mfa is not None else None
    session = response.member_session
    return LoginStep(
        organization=_dump(response.organization),
        member=_dump(response.member),
        session_jwt=response.session_jwt,
        session_expires_at=_utc(session.expires_at) if session is not None else None,
        intermediate_session_token=response.intermediate_session_token,
        mfa_required=mfa is not None and response.primary_required is None,
        primary_required=response.primary_required is not None,
        secondary_auth_initiated=mfa.secondary_auth_initiated if mfa is not None else None,
        mfa_phone_number=options.mfa_phone_number if options is not None else "",
        totp_registration_id=options.totp_registration_id if options is not None else "",
    )
