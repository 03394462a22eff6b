"""Discovery magic links: send one, redeem one.

Contract:
- `send_discovery` validates and canonicalises the email, resolves the redirect URL against the
  project's allow-list (exact match), makes a 256-bit token (`secrets`) whose SHA-256 digest
  alone is stored, and writes the email to the outbox in the caller's transaction: the message
  exists exactly when the token does. The answer does not depend on whether anyone has that
  email (nothing is looked up).
- `redeem_discovery` consumes the link with one atomic conditional UPDATE
  (`… WHERE used_at IS NULL AND expires_at > now RETURNING …`): of concurrent redemptions
  exactly one succeeds. A failed PKCE check rolls the redemption back, so a stolen link without
  its verifier cannot burn the real one.
- Neither function logs; the token exists in clear only in the outbox's sealed payload.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

from sqlalchemy import Table, bindparam, insert, select, update

from antechamber import client_limits, db, rows, tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.delivery import outbox
from antechamber.emails import canonical_email
from antechamber.ids import new_id
from antechamber.magic_links import errors
from antechamber.magic_links.models import MagicLink
from antechamber.redirects import service as redirects
from antechamber.scope import Scope

DISCOVERY = "discovery"
INVITE = "invite"
LOGIN = "login"
SIGNUP = "signup"
#: An organization's own links: redeemed by `magic_links.authenticate`.
ORGANIZATION_KINDS = (INVITE, LOGIN, SIGNUP)
TEMPLATE = "discovery_magic_link"
DEFAULT_EXPIRATION_MINUTES = 60
MIN_EXPIRATION_MINUTES = 5
MAX_EXPIRATION_MINUTES = 10080
MAX_TOKEN_LENGTH = 256
LOCALES = (
    "en",
    "es",
    "pt-br",
    "fr",
    "it",
    "de-DE",
    "zh-Hans",
    "ca-ES",
    "ja",
    "ru",
    "nl",
    "pl",
    "tr",
    "fa",
    "vi",
    "cs",
)
_PKCE_CHALLENGE = re.compile(r"[A-Za-z0-9_-]{43}")

# The statements of the hot paths, built once (Core, on the unit of work's connection).
_links = cast(Table, MagicLink.__table__)
_LINKS = rows.Columns(MagicLink)
_live = (
    _links.c.used_at.is_(None),
    _links.c.superseded_at.is_(None),
    _links.c.expires_at > bindparam("p_now"),
)
_SUPERSEDE_DISCOVERY = (
    update(_links)
    .where(
        _links.c.project_id == bindparam("p_project"),
        _links.c.email_address == bindparam("p_email"),
        _links.c.kind == DISCOVERY,
        *_live,
    )
    .values(superseded_at=bindparam("p_now"))
)
_SUPERSEDE_ORGANIZATION = (
    update(_links)
    .where(
        _links.c.project_id == bindparam("p_project"),
        _links.c.email_address == bindparam("p_email"),
        _links.c.kind.in_(ORGANIZATION_KINDS),
        _links.c.organization_id == bindparam("p_org"),
        *_live,
    )
    .values(superseded_at=bindparam("p_now"))
)
_INSERT = insert(_links)
_this_token = (
    _links.c.token_digest == bindparam("p_digest"),
    _links.c.project_id == bindparam("p_project"),
    _links.c.kind.in_(bindparam("p_kinds", expanding=True)),
)
# Single use: of concurrent redemptions, one UPDATE matches the row; the others match nothing.
_REDEEM = (
    update(_links)
    .where(*_this_token, *_live)
    .values(used_at=bindparam("p_now"))
    .returning(*_LINKS.columns)
)
_LOOK_UP = select(_links.c.used_at, _links.c.superseded_at).where(*_this_token)


@dataclass(frozen=True, slots=True)
class IssuedLink:
    """A link `issue` wrote: the row as inserted (not an ORM object; nothing of it is in the
    unit of work)."""

    id: str
    project_id: str
    kind: str
    email_address: str
    token_digest: str
    redirect_url: str
    pkce_code_challenge: str | None
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    organization_id: str | None
    member_id: str | None
    superseded_at: datetime | None


def send_discovery(
    scope: Scope,
    *,
    email_address: object,
    discovery_redirect_url: str | None = None,
    discovery_expiration_minutes: int | None = None,
    locale: str | None = None,
    pkce_code_challenge: str | None = None,
) -> IssuedLink:
    """Email a discovery magic link to `email_address` (through the outbox).

    Any unused discovery link sent earlier to the address in this project stops working
    (`superseded_at`): one live link per address, the newest.
    """
    email = canonical_email(email_address)
    redirect_url = redirects.resolve(scope, DISCOVERY, discovery_redirect_url)
    minutes = _expiration(discovery_expiration_minutes)
    language = _locale(locale)
    challenge = _challenge(pkce_code_challenge)
    # Per client address, whatever the recipient (the per-recipient limit is the outbox's).
    client_limits.count_discovery_send(scope)
    link, token = issue(
        scope,
        kind=DISCOVERY,
        email=email,
        redirect_url=redirect_url,
        minutes=minutes,
        pkce_code_challenge=challenge,
    )
    outbox.enqueue(
        scope,
        channel="email",
        recipient=email,
        template=TEMPLATE,
        context={"url": link_url(redirect_url, DISCOVERY, token), "expiration_minutes": minutes},
        locale=language,
    )
    return link


def issue(
    scope: Scope,
    *,
    kind: str,
    email: str,
    redirect_url: str,
    minutes: int,
    organization_id: str | None = None,
    member_id: str | None = None,
    pkce_code_challenge: str | None = None,
) -> tuple[IssuedLink, str]:
    """A new link of `kind` for the canonical `email`; returns (row, token), the token in clear
    this once (the caller puts it in the outbox in the same transaction).

    Ends the address's unused earlier links to the same destination: discovery links of the
    project for a discovery link, the organization's links (invite, login, signup) for one of
    those. Audited (`magic_link.sent`).
    """
    now = scope.clock.now()
    conn = db.connection(scope.db)
    # Nothing reads what it ended (nor how many): it goes with the new link's INSERT, ahead
    # of it, in the unit's next round trip (on PostgreSQL; at once elsewhere).
    if kind == DISCOVERY:
        conn.update_unread(
            _SUPERSEDE_DISCOVERY, {"p_project": scope.project_id, "p_email": email, "p_now": now}
        )
    else:
        conn.update_unread(
            _SUPERSEDE_ORGANIZATION,
            {
                "p_project": scope.project_id,
                "p_email": email,
                "p_org": organization_id,
                "p_now": now,
            },
        )
    token = tokens.new_token()
    values: dict[str, Any] = {
        "id": new_id("magic-link", scope.environment),
        "project_id": scope.project_id,
        "kind": kind,
        "email_address": email,
        "token_digest": tokens.digest(token),
        "redirect_url": redirect_url,
        "pkce_code_challenge": pkce_code_challenge,
        "created_at": now,
        "expires_at": now + timedelta(minutes=minutes),
        "used_at": None,
        "organization_id": organization_id,
        "member_id": member_id,
        "superseded_at": None,
    }
    conn.insert_unread(_INSERT, values)  # with the next statement, or the COMMIT
    audit.record(
        scope,
        EventType.MAGIC_LINK_SENT,
        magic_link_id=values["id"],
        kind=kind,
        email=email,
        redirect_url=redirect_url,
        expiration_minutes=minutes,
        organization_id=organization_id,
        member_id=member_id,
    )
    # The caller's copy of the row (not an ORM object: nothing is added to the session).
    return IssuedLink(**values), token


def redeem_discovery(
    scope: Scope, token: object, *, pkce_code_verifier: str | None = None
) -> MagicLink:
    """Consume a discovery link's token (single use) and return the link; its email is proven.

    Raises `MagicLinkNotFound` (404) for a token this project never issued (or a link of
    another kind), `UnableToAuthMagicLink` (401) for a used, superseded or expired one, and
    the PKCE errors (400). Each of those but a missing or unexpected verifier counts against
    the client address's allowance of failures, and an address over it gets
    `TooManyRequests` before any lookup.
    """
    return redeem(scope, token, (DISCOVERY,), pkce_code_verifier=pkce_code_verifier)


def redeem(
    scope: Scope,
    token: object,
    kinds: tuple[str, ...],
    *,
    pkce_code_verifier: str | None = None,
) -> MagicLink:
    """Consume a link of one of `kinds` (single use); the errors of `redeem_discovery`."""
    with client_limits.failures_counted(
        scope, errors.MagicLinkNotFound, errors.UnableToAuthMagicLink, errors.PkceMismatch
    ):
        return _redeem(scope, token, kinds, pkce_code_verifier)


def _redeem(
    scope: Scope, token: object, kinds: tuple[str, ...], pkce_code_verifier: str | None
) -> MagicLink:
    now = scope.clock.now()
    digest = _digest(token)
    conn = db.connection(scope.db)
    params = {"p_digest": digest, "p_project": scope.project_id, "p_kinds": list(kinds)}
    row = conn.execute(_REDEEM, {**params, "p_now": now}).one_or_none()
    if row is None:
        found = conn.execute(_LOOK_UP, params).one_or_none()
        if found is None:
            raise errors.MagicLinkNotFound()
        if found.used_at is None and found.superseded_at is not None:
            raise errors.UnableToAuthMagicLink(errors.SUPERSEDED_MESSAGE, reason="superseded")
        raise errors.UnableToAuthMagicLink()
    link = _LINKS.make(row)  # a transient object (no identity map)
    _check_pkce(link.pkce_code_challenge, pkce_code_verifier)
    audit.record(
        scope,
        EventType.MAGIC_LINK_AUTHENTICATED,
        magic_link_id=link.id,
        kind=link.kind,
        email=link.email_address,
        organization_id=link.organization_id,
        member_id=link.member_id,
    )
    return link


def link_url(redirect_url: str, token_type: str, token: str) -> str:
    """`redirect_url` with `stytch_token_type` and `token` added to its query."""
    before, kept, fragment = _split_redirect(redirect_url)
    added = f"stytch_token_type={quote_plus(token_type)}&token={quote_plus(token)}"
    return f"{before}?{kept}{added}{fragment}"


# What `urlunsplit(parts._replace(query=urlencode(kept + added)))` makes, in three parts worked
# out once per redirect URL (the same few allow-listed URLs every send): the URL up to its
# query, the query's other pairs re-encoded (with their "&"), the fragment (with its "#").
# `urlencode` of pairs is their `quote_plus` encodings joined by "&", and `urlunsplit` puts a
# non-empty query after "?" and the fragment after it, so the text is the same.
@functools.lru_cache(maxsize=256)
def _split_redirect(redirect_url: str) -> tuple[str, str, str]:
    parts = urlsplit(redirect_url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("stytch_token_type", "token")
    ]
    kept = urlencode(query)
    before = urlunsplit(parts._replace(query="", fragment=""))
    return before, f"{kept}&" if kept else "", f"#{parts.fragment}" if parts.fragment else ""


def pkce_challenge(verifier: str) -> str:
    """S256: the unpadded base64url SHA-256 of the verifier."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _check_pkce(challenge: str | None, verifier: str | None) -> None:
    if challenge is None:
        if verifier:
            raise errors.PkceDidNotExpectCodeVerifier()
        return
    if not verifier:
        raise errors.PkceExpectedCodeVerifier()
    if len(verifier) > MAX_TOKEN_LENGTH or not tokens.same(pkce_challenge(verifier), challenge):
        raise errors.PkceMismatch()


def _expiration(value: int | None) -> int:
    return expiration(value, DEFAULT_EXPIRATION_MINUTES, "discovery_expiration_minutes")


def expiration(value: int | None, default: int, field: str) -> int:
    """Minutes a link lives: `value` (5 to 10080), or `default` when not given."""
    if value is None:
        return default
    if isinstance(value, bool) or not MIN_EXPIRATION_MINUTES <= value <= MAX_EXPIRATION_MINUTES:
        raise errors.InvalidExpiration(
            f"{field} must be between {MIN_EXPIRATION_MINUTES} and {MAX_EXPIRATION_MINUTES} "
            "(one week)."
        )
    return value


def locale(value: str | None) -> str:
    """A link email's language (Stytch's locale list), English by default."""
    return _locale(value)


def challenge(value: str | None) -> str | None:
    """A checked `pkce_code_challenge` (43 base64url characters), or None."""
    return _challenge(value)


def _locale(value: str | None) -> str:
    if not value:
        return "en"
    if value not in LOCALES:
        raise errors.InvalidLocale()
    return value


def _challenge(value: str | None) -> str | None:
    if not value:
        return None
    if not _PKCE_CHALLENGE.fullmatch(value):
        raise errors.InvalidPkceCodeChallenge()
    return value


def _digest(token: object) -> str:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        return "-"
    return tokens.digest(token)
