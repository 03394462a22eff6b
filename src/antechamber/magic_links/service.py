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
import hashlib
import re
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import select, update

from antechamber import client_limits, tokens
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


def send_discovery(
    scope: Scope,
    *,
    email_address: object,
    discovery_redirect_url: str | None = None,
    discovery_expiration_minutes: int | None = None,
    locale: str | None = None,
    pkce_code_challenge: str | None = None,
) -> MagicLink:
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
) -> tuple[MagicLink, str]:
    """A new link of `kind` for the canonical `email`; returns (row, token), the token in clear
    this once (the caller puts it in the outbox in the same transaction).

    Ends the address's unused earlier links to the same destination: discovery links of the
    project for a discovery link, the organization's links (invite, login, signup) for one of
    those. Audited (`magic_link.sent`).
    """
    now = scope.clock.now()
    same_destination = (
        MagicLink.kind == DISCOVERY
        if kind == DISCOVERY
        else (
            MagicLink.kind.in_(ORGANIZATION_KINDS) & (MagicLink.organization_id == organization_id)
        )
    )
    scope.db.execute(
        update(MagicLink)
        .where(
            MagicLink.project_id == scope.project_id,
            MagicLink.email_address == email,
            same_destination,
            MagicLink.used_at.is_(None),
            MagicLink.superseded_at.is_(None),
            MagicLink.expires_at > now,
        )
        .values(superseded_at=now),
        execution_options={"synchronize_session": False},
    )
    token = tokens.new_token()
    link = MagicLink(
        id=new_id("magic-link", scope.environment),
        project_id=scope.project_id,
        kind=kind,
        email_address=email,
        token_digest=tokens.digest(token),
        redirect_url=redirect_url,
        pkce_code_challenge=pkce_code_challenge,
        created_at=now,
        expires_at=now + timedelta(minutes=minutes),
        used_at=None,
        organization_id=organization_id,
        member_id=member_id,
        superseded_at=None,
    )
    scope.db.add(link)
    audit.record(
        scope,
        EventType.MAGIC_LINK_SENT,
        magic_link_id=link.id,
        kind=kind,
        email=email,
        redirect_url=redirect_url,
        expiration_minutes=minutes,
        organization_id=organization_id,
        member_id=member_id,
    )
    scope.db.flush()
    return link, token


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
    link = scope.db.scalars(
        update(MagicLink)
        .where(
            MagicLink.token_digest == digest,
            MagicLink.project_id == scope.project_id,
            MagicLink.kind.in_(kinds),
            MagicLink.used_at.is_(None),
            MagicLink.superseded_at.is_(None),
            MagicLink.expires_at > now,
        )
        .values(used_at=now)
        .returning(MagicLink),
        execution_options={"populate_existing": True, "synchronize_session": False},
    ).one_or_none()
    if link is None:
        found = scope.db.execute(
            select(MagicLink.used_at, MagicLink.superseded_at).where(
                MagicLink.token_digest == digest,
                MagicLink.project_id == scope.project_id,
                MagicLink.kind.in_(kinds),
            )
        ).one_or_none()
        if found is None:
            raise errors.MagicLinkNotFound()
        if found.used_at is None and found.superseded_at is not None:
            raise errors.UnableToAuthMagicLink(errors.SUPERSEDED_MESSAGE, reason="superseded")
        raise errors.UnableToAuthMagicLink()
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
    parts = urlsplit(redirect_url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if k not in ("stytch_token_type", "token")
    ]
    query += [("stytch_token_type", token_type), ("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


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
