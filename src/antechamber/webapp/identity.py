"""Who an action acts for: the signed-in member (session cookie) or the login in progress
(signed pending-login cookie), never the request body or the URL.

`signed_in` checks the session JWT locally and asks the server when it has expired or when a
fresh check is wanted (before any change: a session revoked elsewhere is refused at once);
`membership_of` reads the member and organization as the server has them now (a deleted or
deprovisioned member ends the session); `login_in_progress` reads the pending login. Each
refuses with a `Failure` (401) that clears what no longer holds; pages reuse them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.responses import Response

from antechamber.webapp import cookies
from antechamber.webapp.backend import JSON, BackendError, Membership
from antechamber.webapp.config import Webapp
from antechamber.webapp.cookies import Pending
from antechamber.webapp.errors import CookieOp, Failure, from_backend
from antechamber.webapp.inputs import Call
from antechamber.webapp.sessions import JwtExpired, JwtInvalid


@dataclass(frozen=True)
class Signed:
    """The signed-in member, as the session cookie proves.

    `membership` is set when the server was asked (a refresh or a fresh check), so callers
    need not ask again; `cookie_ops` re-set the cookie with a refreshed JWT.
    """

    member_id: str
    organization_id: str
    factors: list[JSON]
    membership: Membership | None = None
    cookie_ops: list[CookieOp] = field(default_factory=list)
    #: The session JWT as it stands now (refreshed if it was): for calls made with the session.
    session_jwt: str = ""


def signed_in(web: Webapp, call: Call, *, fresh: bool = False) -> Signed:
    """The member of the session cookie, or `Failure` (401) with the cookie cleared.

    The JWT is checked locally; the server is asked when it has expired (a fresh JWT comes
    back and the cookie is re-set) or when `fresh` is asked for: before any change, so that a
    session revoked elsewhere is refused at once rather than within the JWT's five minutes.
    """
    config = web.config
    token = cookies.session_jwt(config, dict(call.cookies))
    forget: list[CookieOp] = [lambda r: cookies.clear_session(config, r)]
    if not token:
        raise Failure("not_signed_in", redirect="/?error=not_signed_in")
    try:
        local = web.verifier.verify(token)
    except JwtInvalid:
        raise Failure(
            "session_expired", redirect="/?error=session_expired", cookie_ops=forget
        ) from None
    except JwtExpired:
        fresh = True
    else:
        if not fresh:
            return Signed(local.member_id, local.organization_id, local.factors, session_jwt=token)
    try:
        check = web.backend.authenticate_session(token)
    except BackendError as exc:
        failure = from_backend(exc)
        if failure.code == "session_expired":
            failure.cookie_ops = forget
        raise failure from exc
    refreshed = check.session_jwt

    def keep(response: Response) -> None:
        cookies.set_session(config, response, refreshed, check.expires_at)

    return Signed(
        member_id=str(check.member.get("member_id", "")),
        organization_id=str(check.organization.get("organization_id", "")),
        factors=check.factors,
        membership=Membership(check.organization, check.member),
        cookie_ops=[keep] if refreshed and refreshed != token else [],
        session_jwt=refreshed or token,
    )


def membership_of(web: Webapp, signed: Signed) -> Membership:
    """The signed-in member and organization as the server has them now. A member or
    organization deleted since the JWT was signed ends the session here (cookie forgotten)."""
    if signed.membership is not None:
        return signed.membership
    try:
        found = web.backend.get_member(signed.organization_id, signed.member_id)
    except BackendError as exc:
        failure = from_backend(exc)
        if exc.error_type in ("member_not_found", "organization_not_found"):
            config = web.config
            failure = Failure(
                "session_expired",
                redirect="/?error=session_expired",
                cookie_ops=[lambda r: cookies.clear_session(config, r)],
            )
        raise failure from exc
    if found.member.get("status") == "deactivated":
        # Deprovisioned by the organization's directory (SCIM): the server has revoked the
        # session already; a read trusting the JWT must not outlive that by five minutes.
        config = web.config
        raise Failure(
            "session_expired",
            redirect="/?error=session_expired",
            cookie_ops=[lambda r: cookies.clear_session(config, r)],
        )
    return found


def login_in_progress(web: Webapp, call: Call, *, waiting_for_mfa: bool = False) -> Pending:
    """The login in the pending-login cookie, or `Failure` (401, back to the email step)."""
    login = cookies.pending(web.config, dict(call.cookies))
    if login is None:
        raise Failure("login_expired", redirect="/?error=login_expired")
    if waiting_for_mfa and not login.waiting_for_mfa:
        raise Failure("no_pending_mfa", redirect="/discovery")
    return login
