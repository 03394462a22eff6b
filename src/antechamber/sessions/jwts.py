"""A member session's JWTs: the claims, minting (with reuse), and the subject of one presented.

Contract: a session JWT is RS256, signed by the project's key (`keys.service`), valid 5 minutes
(never past the session's own expiry), with the claims of stytch-b2b-api.md §2.11. `minted`
hands out a JWT it signed less than `JWT_REUSE_SECONDS` ago for the same session and claims;
`subject` accepts only what `keys.verify` accepts. Both remember per process (`memos`), which
saves work and never changes an answer.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from antechamber import rows
from antechamber.clock import as_utc, rfc3339
from antechamber.keys import service as keys
from antechamber.members.models import Member
from antechamber.mfa import policy
from antechamber.organizations.models import Organization
from antechamber.scope import Scope
from antechamber.sessions import memos
from antechamber.sessions.models import MemberSession

SESSION_CLAIM = "https://stytch.com/session"
ORGANIZATION_CLAIM = "https://stytch.com/organization"
#: How long a minted JWT is handed out again for the same session and claims (`minted`).
JWT_REUSE_SECONDS = 60
# Per process, most recently signed last; a session missing here just gets a fresh JWT. An
# entry is of no use after JWT_REUSE_SECONDS and leaves then (`memos.forget_old`): what the
# memo holds is the sessions checked in the last minute, at most `memos.KEPT`.
_recent_jwts: OrderedDict[str, tuple[tuple[Any, ...], int, str]] = OrderedDict()
# Per process: JWTs `keys.verify` accepted, by their exact text: (project, `nbf`, session id,
# member id). Oldest first, each kept for JWT_LIFETIME (process time), at most
# `_VERIFIED_KEPT`.
_verified: OrderedDict[str, tuple[str, Any, str, str, float]] = OrderedDict()
_VERIFIED_KEPT = 4096
#: A session's columns (`rows.Columns`): what `sessions.lookup` selects and makes a check's
#: transient session of, and the values by name this module reads of it (each attribute read
#: of such an object is a descriptor call, its `__dict__` is not).
SESSIONS = rows.Columns(MemberSession)


def session_claim(
    db: Session,
    session: MemberSession,
    member: Member,
    org: Organization | None = None,
    *,
    roles: list[str] | None = None,
) -> dict[str, Any]:
    """The JWT's session claim; the API's `member_session` shows the same times, factors and
    roles (`api.serializers.member_session`). `roles`: `policy.role_ids` of the member, the
    organization and the session's factors, if the caller has read them (`start`)."""
    v = SESSIONS.values_of(session)  # its attributes, each read once (`rows.Columns`)
    started_at, last_accessed_at = v["started_at"], v["last_accessed_at"]
    started = rfc3339(started_at)
    return {
        "id": v["id"],
        "started_at": started,
        # The same instant at a session's start: formatted once.
        "last_accessed_at": started
        if last_accessed_at is started_at
        else rfc3339(last_accessed_at),
        "expires_at": rfc3339(v["expires_at"]),
        "attributes": {"user_agent": "", "ip_address": ""},
        "authentication_factors": list(v["factors"]),
        # The session's SAML connections' roles too (`rbac.sso_grants`).
        "roles": policy.role_ids(db, member, org, v["factors"]) if roles is None else roles,
    }


def mint_jwt(scope: Scope, session: MemberSession, member: Member, org: Organization) -> str:
    """A 5-minute JWT for the session (`minted`)."""
    return minted(scope, session, member, org)[0]


def minted(
    scope: Scope,
    session: MemberSession,
    member: Member,
    org: Organization,
    *,
    roles: list[str] | None = None,
) -> tuple[str, dict[str, Any]]:
    """A 5-minute JWT for the session (never outliving it); claims as §2.11.

    Fresh, unless this process signed one with the same claims for the same session less than
    `JWT_REUSE_SECONDS` ago (by the injected clock): that one is returned again, with at least
    four of its five minutes left. Signing is the costliest step of a session check, and an app
    checks the same session on every request. Returns the JWT and its session claim
    (`session_claim`, given `roles` as it takes them), which the answer's `member_session`
    repeats.
    """
    issued = int(scope.clock.now().timestamp())
    v = SESSIONS.values_of(session)
    session_id: str = v["id"]
    custom = v["custom_claims"] or {}
    claim = session_claim(scope.db, session, member, org, roles=roles)
    project_id, member_id, org_id, slug = scope.project_id, member.id, org.id, org.slug
    # The JWT's claims but its times (`_timeless`) are made of these alone, so they are what a
    # reuse compares (the claims themselves are built only to sign). The kid too: after a
    # rotation, JWTs come from the new key at once. The session claim compares as values
    # (cheaper than serialising it); the caller's custom claims as JSON text, where `1` and
    # `true` differ as they do in the JWT (equal texts are equal values).
    fingerprint = (
        keys.signing_kid(scope),
        json.dumps(custom, sort_keys=True) if custom else "",
        project_id,
        member_id,
        org_id,
        slug,
        claim,
    )
    with memos.lock:
        recent = _recent_jwts.get(session_id)
    if (
        recent is not None
        and recent[0] == fingerprint
        and 0 <= issued - recent[1] < JWT_REUSE_SECONDS
    ):
        return recent[2], claim
    timeless = _timeless(custom, project_id, member_id, claim, org_id, slug)
    expires = min(issued + int(keys.JWT_LIFETIME.total_seconds()), _epoch(v["expires_at"]))
    token = keys.sign(scope, {**timeless, "iat": issued, "nbf": issued, "exp": expires})
    with memos.lock:
        _recent_jwts[session_id] = (fingerprint, issued, token)
        _recent_jwts.move_to_end(session_id)
        memos.forget_old(_recent_jwts, lambda entry: issued - entry[1] >= JWT_REUSE_SECONDS)
    return token, claim


def _timeless(
    custom: dict[str, Any],
    project_id: str,
    member_id: str,
    claim: dict[str, Any],
    org_id: str,
    slug: str,
) -> dict[str, Any]:
    """A session JWT's claims but `iat`, `nbf` and `exp` (§2.11): the custom claims, then ours,
    which take precedence."""
    return {
        **custom,
        "aud": [project_id],
        "iss": keys.issuer(project_id),
        "sub": member_id,
        SESSION_CLAIM: claim,
        ORGANIZATION_CLAIM: {"organization_id": org_id, "slug": slug},
    }


def subject(scope: Scope, token: str, now: datetime) -> tuple[str, str]:
    """The session and member ids of a JWT `keys.verify` accepts for the scope's project.

    A token it accepted before, for the same project, is not decoded and checked again: its
    outcome is the same but for `nbf` (against `now`), which is checked again. (Only the
    exact text matches; `verify` itself knows the tokens this process signed.)"""
    seen = _verified.get(token) if type(token) is str else None
    if seen is not None and seen[0] == scope.project_id:
        # `verify`'s test of `nbf`, with its value (an int or a float, never a bool).
        if not seen[1] <= now.timestamp() + 1:
            raise keys.InvalidSessionJwt()
        return seen[2], seen[3]
    claims = keys.verify(scope, token, now=now)
    session = claims.get(SESSION_CLAIM)
    session_id = session.get("id") if isinstance(session, dict) else None
    member_id = claims.get("sub")
    if not isinstance(session_id, str) or not isinstance(member_id, str):
        raise keys.InvalidSessionJwt()
    at = time.monotonic()
    expired = at - keys.JWT_LIFETIME.total_seconds()
    with memos.lock:
        _verified[token] = (scope.project_id, claims["nbf"], session_id, member_id, at)
        _verified.move_to_end(token)
        memos.forget_old(_verified, lambda entry: entry[4] < expired, _VERIFIED_KEPT)
    return session_id, member_id


def _epoch(value: datetime) -> int:
    return int(as_utc(value).timestamp())
