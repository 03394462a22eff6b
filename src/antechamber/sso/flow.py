"""The browser flow of SSO (stytch-b2b-api-more.md §3.6, §3.7).

    app ──▶ GET /v1/public/sso/start?public_token&connection_id|organization_id
                 &login_redirect_url&signup_redirect_url&pkce_code_challenge
        `start`: a login row (state, nonce, our PKCE verifier; 10 minutes) ──▶ the IdP
    IdP ──▶ /v1/b2b/sso/callback/{connection_id}   (OIDC: GET code+state; SAML: POST)
        `pending` (read) → the IdP is asked, outside any transaction → `finish`: the login
        is claimed (single use), the identity checked against the organization's rules, and
        an SSO token issued ──▶ the app's login (or signup) redirect URL
                                 ?stytch_token_type=sso&token=…
    app ──▶ POST /v1/b2b/sso/authenticate {sso_token, pkce_code_verifier?}
        `authenticate`: the token is redeemed (single use), the member found or created
        (`provisioning`), and the login concluded like every other primary factor
        (`sessions.login.conclude`: a session, or `mfa_required` with an IST).

The calls to the identity provider happen between two units of work, so no database lock
is held while waiting on the network.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select, update

from antechamber import client_limits, tokens
from antechamber.audit import service as audit
from antechamber.magic_links import errors as pkce_errors
from antechamber.magic_links.service import pkce_challenge
from antechamber.organizations.models import Organization
from antechamber.organizations.service import get_organization
from antechamber.redirects import service as redirects
from antechamber.redirects.errors import InvalidRedirectUrl
from antechamber.scope import Scope
from antechamber.sessions import factors, login
from antechamber.sessions import service as sessions
from antechamber.sessions.login import AuthResult
from antechamber.sso import connections, errors, oidc, provisioning, saml_flow
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import OidcConnection, SamlConnection, SsoLogin, SsoToken
from antechamber.sso.provisioning import VerifiedIdentity

LOGIN_MINUTES = 10
MAX_TOKEN_LENGTH = 128
_PKCE_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
LOGIN_REDIRECT = "login"
SIGNUP_REDIRECT = "signup"


@dataclass(frozen=True)
class Started:
    """Where to send the browser, and the state to bind to it (a cookie)."""

    redirect_url: str
    state: str
    connection_id: str


@dataclass(frozen=True)
class Pending:
    """A started login as the callback needs it (read, not yet claimed)."""

    login_id: str
    connection: OidcConnection | SamlConnection
    provider: oidc.Provider | None
    nonce: str
    code_verifier: str
    request_id: str


# --- start ---------------------------------------------------------------------------------


def start(
    scope: Scope,
    *,
    connection_id: str | None = None,
    organization_id: str | None = None,
    login_redirect_url: str | None = None,
    signup_redirect_url: str | None = None,
    pkce_code_challenge: str | None = None,
    custom_scopes: str | None = None,
) -> Started:
    """Begin a login through a connection (named, or the organization's default / only
    active one). Redirect URLs must be registered for the project (types `login`, `signup`)
    and default to the registered defaults."""
    client_limits.count_sso_start(scope)
    if connection_id and organization_id:
        raise errors.TooManyConnectionLocators()
    if connection_id:
        connection = connections.get_connection(scope, connection_id)
    elif organization_id:
        connection = _default_connection(scope, get_organization(scope, organization_id))
    else:
        raise errors.MissingConnectionLocator()
    if connections.status(connection) != "active":
        raise errors.RequiresActiveConnection()
    challenge = _challenge(pkce_code_challenge)
    login_url = _redirect(scope, LOGIN_REDIRECT, login_redirect_url, errors.InvalidLoginSsoUrl)
    signup_url = _redirect(scope, SIGNUP_REDIRECT, signup_redirect_url, errors.InvalidSignupSsoUrl)
    now = scope.clock.now()
    state = tokens.new_token()
    row = SsoLogin(
        id=f"sso-login-{scope.environment}-{uuid.uuid4()}",
        project_id=scope.project_id,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        state_digest=tokens.digest(state),
        request_id="",
        nonce=tokens.new_token(24),
        code_verifier=tokens.new_token(48),
        pkce_code_challenge=challenge,
        login_redirect_url=login_url,
        signup_redirect_url=signup_url,
        created_at=now,
        expires_at=now + timedelta(minutes=LOGIN_MINUTES),
        used_at=None,
    )
    if isinstance(connection, OidcConnection):
        provider = _provider(scope, connection, custom_scopes)
        target = oidc.authorization_redirect(
            provider, state=state, nonce=row.nonce, verifier=row.code_verifier
        )
    else:
        row.nonce = ""
        row.code_verifier = ""
        row.request_id, target = saml_flow.authn_request(scope, connection, state, now)
    scope.db.add(row)
    scope.db.flush()
    audit.record(
        scope,
        SsoEvent.LOGIN_STARTED,
        organization_id=connection.organization_id,
        connection_id=connection.id,
        sso_login_id=row.id,
    )
    return Started(redirect_url=target, state=state, connection_id=connection.id)


def _default_connection(scope: Scope, org: Organization) -> OidcConnection | SamlConnection:
    if org.sso_default_connection_id:
        return connections.connection_of(scope, org, org.sso_default_connection_id)
    active = list(org.sso_active_connections or [])
    if not active:
        raise errors.NoConnectionForOrganization()
    if len(active) > 1:
        raise errors.IndeterminateConnection()
    return connections.connection_of(scope, org, active[0]["connection_id"])


def _challenge(value: str | None) -> str | None:
    if not value:
        return None
    if not _PKCE_CHALLENGE.match(value):
        raise errors.InvalidPkceCodeChallenge()
    return value


def _redirect(scope: Scope, kind: str, requested: str | None, invalid: type[Exception]) -> str:
    rows = redirects.list_redirect_urls(scope, kind=kind)
    if requested:
        try:
            url = redirects.checked_url(requested, InvalidRedirectUrl)
        except InvalidRedirectUrl:
            raise invalid() from None
        if any(r.url == url for r in rows):
            return url
        raise errors.NoMatchForSsoUrl()
    default = next((r for r in rows if r.is_default), None)
    if default is None:
        raise errors.NoRedirectUrlSet()
    return default.url


def _provider(
    scope: Scope, connection: OidcConnection, custom_scopes: str | None = None
) -> oidc.Provider:
    scopes = connection.custom_scopes or oidc.DEFAULT_SCOPES
    if custom_scopes:
        extra = [s for s in custom_scopes.split() if re.fullmatch(r"[\x21\x23-\x5b\x5d-\x7e]+", s)]
        scopes = " ".join(dict.fromkeys([*scopes.split(), *extra]))
    if "openid" not in scopes.split():
        scopes = f"openid {scopes}"
    return oidc.Provider(
        issuer=connection.issuer,
        client_id=connection.client_id,
        client_secret=connections.client_secret(scope, connection),
        authorization_url=connection.authorization_url,
        token_url=connection.token_url,
        userinfo_url=connection.userinfo_url,
        jwks_url=connection.jwks_url,
        redirect_uri=connections.callback_url(scope, connection.id),
        scopes=scopes,
    )


# --- callback ------------------------------------------------------------------------------


def pending(scope: Scope, connection_id: str, state: str | None) -> Pending:
    """The live login a callback answers (read only; `finish` claims it)."""
    if not state:
        raise errors.MissingState()
    row = scope.db.scalar(
        select(SsoLogin).where(
            SsoLogin.state_digest == _digest(state),
            SsoLogin.project_id == scope.project_id,
            SsoLogin.used_at.is_(None),
            SsoLogin.expires_at > scope.clock.now(),
        )
    )
    if row is None or row.connection_id != connection_id:
        raise _unsolicited(connection_id)
    connection = connections.get_connection(scope, connection_id)
    provider = _provider(scope, connection) if isinstance(connection, OidcConnection) else None
    return Pending(
        login_id=row.id,
        connection=connection,
        provider=provider,
        nonce=row.nonce,
        code_verifier=row.code_verifier,
        request_id=row.request_id,
    )


def _unsolicited(connection_id: str) -> errors.SsoLoginNotFound:
    if connection_id.startswith("saml-"):
        return errors.UnsolicitedSamlResponse()
    return errors.SsoLoginNotFound()


def oidc_identity(scope: Scope, login_: Pending, code: str | None) -> VerifiedIdentity:
    """Ask the provider (no transaction open): code → verified ID token → identity."""
    if not code or login_.provider is None:
        raise errors.OidcAuthCodeError("The identity provider's answer has no code.")
    identity = oidc.redeem_code(
        login_.provider,
        code=code[:2048],
        verifier=login_.code_verifier,
        nonce=login_.nonce,
        now=scope.clock.now(),
        settings=scope.settings,
    )
    mapping = login_.connection.attribute_mapping or {}
    email = identity.claims.get(mapping.get("email", "email"), identity.email)
    return VerifiedIdentity(
        connection_id=login_.connection.id,
        external_id=identity.subject,
        email=str(email),
        email_verified=identity.email_verified,
        name=identity.name,
        attributes={k: v for k, v in identity.claims.items() if k in _KEPT_CLAIMS},
    )


_KEPT_CLAIMS = ("sub", "email", "email_verified", "name", "given_name", "family_name", "groups")


def finish(scope: Scope, state: str, identity: VerifiedIdentity) -> str:
    """Claim the login (single use), check the identity against the organization's rules
    (refusing now what `sso/authenticate` would refuse), and issue the SSO token. Returns the
    app's redirect URL carrying it."""
    now = scope.clock.now()
    row = scope.db.scalars(
        update(SsoLogin)
        .where(
            SsoLogin.state_digest == _digest(state),
            SsoLogin.project_id == scope.project_id,
            SsoLogin.used_at.is_(None),
            SsoLogin.expires_at > now,
        )
        .values(used_at=now)
        .returning(SsoLogin),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).one_or_none()
    if row is None or row.connection_id != identity.connection_id:
        raise _unsolicited(identity.connection_id)
    org = scope.db.get(Organization, row.organization_id)
    if org is None:  # pragma: no cover - the login row would have gone with it
        raise errors.SsoLoginNotFound()
    decision = provisioning.decide(scope, org, identity)
    token = issue_token(scope, org, identity, row.pkce_code_challenge)
    audit.record(
        scope,
        SsoEvent.IDENTITY_VERIFIED,
        organization_id=org.id,
        member_id=decision.member.id if decision.member else None,
        connection_id=identity.connection_id,
        sso_login_id=row.id,
    )
    target = row.login_redirect_url if decision.member else row.signup_redirect_url
    return with_query(target, stytch_token_type="sso", token=token)  # noqa: S106


def finish_unsolicited(scope: Scope, connection_id: str, saml_response: str | None) -> str:
    """IdP-initiated SAML: the person opened the app from their identity provider's
    dashboard, so no login was started here. The response must carry no InResponseTo, the
    connection must allow it (`idp_initiated_auth_disabled` false), and the token goes to the
    project's default login or signup URL, without PKCE (there was no start to give a
    challenge). Its assertion id is remembered like any other."""
    connection = connections.get_connection(scope, connection_id)
    if not isinstance(connection, SamlConnection) or connections.status(connection) != "active":
        raise errors.UnsolicitedSamlResponse()
    identity = saml_flow.unsolicited_identity(scope, connection, saml_response)
    org = scope.db.get(Organization, connection.organization_id)
    if org is None:  # pragma: no cover - cascade
        raise errors.UnsolicitedSamlResponse()
    decision = provisioning.decide(scope, org, identity)
    kind = LOGIN_REDIRECT if decision.member else SIGNUP_REDIRECT
    invalid = errors.InvalidLoginSsoUrl if decision.member else errors.InvalidSignupSsoUrl
    target = _redirect(scope, kind, None, invalid)
    token = issue_token(scope, org, identity, None)
    audit.record(
        scope,
        SsoEvent.IDENTITY_VERIFIED,
        organization_id=org.id,
        member_id=decision.member.id if decision.member else None,
        connection_id=connection.id,
        idp_initiated=True,
    )
    return with_query(target, stytch_token_type="sso", token=token)  # noqa: S106


def issue_token(
    scope: Scope, org: Organization, identity: VerifiedIdentity, challenge: str | None
) -> str:
    now = scope.clock.now()
    token = tokens.new_token()
    kind = "saml" if identity.connection_id.startswith("saml-") else "oidc"
    scope.db.add(
        SsoToken(
            id=f"sso-token-{scope.environment}-{uuid.uuid4()}",
            project_id=scope.project_id,
            organization_id=org.id,
            connection_id=identity.connection_id,
            kind=kind,
            token_digest=tokens.digest(token),
            external_id=identity.external_id[:1024],
            email_address=identity.email[:320],
            name=identity.name[:256],
            attributes={
                **identity.attributes,
                "_email_verified": identity.email_verified,
            },
            pkce_code_challenge=challenge,
            created_at=now,
            expires_at=now + timedelta(minutes=scope.settings.sso_token_minutes),
            used_at=None,
        )
    )
    scope.db.flush()
    return token


def with_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in params]
    return urlunsplit(parts._replace(query=urlencode([*query, *params.items()])))


# --- sso/authenticate ----------------------------------------------------------------------


def authenticate(
    scope: Scope,
    sso_token: object,
    *,
    pkce_code_verifier: str | None = None,
    session_token: str | None = None,
    session_jwt: str | None = None,
    intermediate_session_token: str | None = None,
    session_duration_minutes: int | None = None,
    session_custom_claims: Any = None,
    locale: str | None = None,
) -> AuthResult:
    """Redeem an SSO token (single use: of concurrent redemptions exactly one succeeds; a
    refusal after the claim rolls it back with everything else) and conclude the login.

    With a live session of the same member (`session_token` / `session_jwt`), the SSO factor
    is added to it and no MFA is asked, as with Stytch. Otherwise the organization's rules
    decide (`sessions.login.conclude`): a session, or an IST bound to (organization, member)
    with `mfa_required`. `intermediate_session_token` is accepted and ignored for now: an
    SSO login is always complete as a primary factor.
    """
    del intermediate_session_token
    sessions.duration(session_duration_minutes)
    # Guessing tokens counts against the client address, as for magic links and ISTs.
    with client_limits.failures_counted(scope, errors.SsoTokenNotFound, pkce_errors.PkceMismatch):
        row = _redeem(scope, sso_token, pkce_code_verifier)
    org = scope.db.get(Organization, row.organization_id)
    if org is None:  # pragma: no cover - cascade
        raise errors.SsoTokenNotFound()
    connections.get_connection(scope, row.connection_id)  # deleted since: refused
    attributes = dict(row.attributes)
    verified = attributes.pop("_email_verified", None)
    identity = VerifiedIdentity(
        connection_id=row.connection_id,
        external_id=row.external_id,
        email=row.email_address,
        email_verified=verified if isinstance(verified, bool) else None,
        name=row.name,
        attributes=attributes,
    )
    member, registration = provisioning.provision(scope, org, identity)
    factor = factors.sso(
        row.kind, registration.id, row.connection_id, row.external_id, scope.clock.now()
    )
    if session_token or session_jwt:
        result = _with_session(scope, org, member, factor, session_token, session_jwt)
    else:
        result = login.conclude(
            scope,
            org,
            member,
            [factor],
            session_duration_minutes=session_duration_minutes,
            session_custom_claims=session_custom_claims,
            locale=locale,
        )
    audit.record(
        scope,
        SsoEvent.AUTHENTICATED,
        organization_id=org.id,
        member_id=member.id,
        connection_id=row.connection_id,
        outcome=login.outcome(result),
    )
    return result


def _with_session(
    scope: Scope,
    org: Organization,
    member: Any,
    factor: factors.Factor,
    session_token: str | None,
    session_jwt: str | None,
) -> AuthResult:
    session, session_member, _ = sessions.resolve(
        scope, session_token=session_token, session_jwt=session_jwt
    )
    if session_member.id != member.id:
        from antechamber.sessions.errors import SessionNotFound

        raise SessionNotFound()
    jwt = sessions.add_factor(scope, session, member, org, factor)
    return AuthResult(
        organization=org,
        member=member,
        session=session,
        session_token=session_token or "",
        session_jwt=jwt,
    )


def _redeem(scope: Scope, token: object, verifier: str | None) -> SsoToken:
    now = scope.clock.now()
    row = scope.db.scalars(
        update(SsoToken)
        .where(
            SsoToken.token_digest == _digest(token),
            SsoToken.project_id == scope.project_id,
            SsoToken.used_at.is_(None),
            SsoToken.expires_at > now,
        )
        .values(used_at=now)
        .returning(SsoToken),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).one_or_none()
    if row is None:
        raise errors.SsoTokenNotFound()
    challenge = row.pkce_code_challenge
    if challenge is None:
        if verifier:
            raise pkce_errors.PkceDidNotExpectCodeVerifier()
    elif not verifier:
        raise pkce_errors.PkceExpectedCodeVerifier()
    elif len(verifier) > MAX_TOKEN_LENGTH or not tokens.same(pkce_challenge(verifier), challenge):
        raise pkce_errors.PkceMismatch()
    return row


def _digest(token: object) -> str:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return "-"
    return tokens.digest(token)
