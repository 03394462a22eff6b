"""The redirect URL allow-list: register, list, remove, and resolve the URL a link may use.

A link's URL is matched exactly against the registered ones (no prefix or pattern matching,
which is where open redirects come from). The first URL of a type becomes its default; when the
default is removed the oldest remaining URL takes its place, so a type with URLs always has
exactly one default.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select

from antechamber import db
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.errors import AntechamberError
from antechamber.ids import new_id
from antechamber.redirects import errors
from antechamber.redirects.models import RedirectUrl
from antechamber.scope import Scope

TYPES = ("discovery", "invite", "login", "signup")
_URLS_OF_TYPE = (
    select(RedirectUrl.url, RedirectUrl.is_default)
    .where(
        RedirectUrl.project_id == bindparam("p_project"), RedirectUrl.type == bindparam("p_type")
    )
    .order_by(RedirectUrl.created_at, RedirectUrl.id)
)
MAX_URL_LENGTH = 2048

# Per type: (malformed URL, nothing registered and none given).
_TYPE_ERRORS: dict[str, tuple[type[errors.InvalidRedirectUrl], type[AntechamberError]]] = {
    "discovery": (errors.InvalidDiscoveryRedirectUrl, errors.NoDiscoveryRedirectUrlsSet),
    "invite": (errors.InvalidInviteRedirectUrl, errors.NoInviteRedirectUrlsSet),
    "login": (errors.InvalidLoginRedirectUrl, errors.NoLoginRedirectUrlsSet),
    "signup": (errors.InvalidSignupRedirectUrl, errors.NoSignupRedirectUrlsSet),
}


def checked_type(value: str) -> str:
    if value not in TYPES:
        raise errors.InvalidRedirectUrlType()
    return value


def checked_url(raw: object, invalid: type[errors.InvalidRedirectUrl]) -> str:
    """An absolute http(s) URL with a host, no userinfo (`https://good@evil`), no fragment."""
    if not isinstance(raw, str):
        raise invalid()
    url = raw.strip()
    if not url or len(url) > MAX_URL_LENGTH or not _acceptable(url):
        raise invalid()
    return url


# Every link sent checks its URL, nearly always one of the few the project registered: the
# answer depends on nothing but the text, so it is remembered (at most 2048 characters each).
@functools.lru_cache(maxsize=256)
def _acceptable(url: str) -> bool:
    if any(c.isspace() or ord(c) < 32 for c in url):
        return False
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a bad port
    except ValueError:
        return False
    del port
    return not (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.password is not None
        or parts.fragment
        or "\\" in url
    )


def add_redirect_url(
    scope: Scope, url: str, *, kind: str = "discovery", default: bool = False
) -> RedirectUrl:
    """Register `url` for links of `kind` (idempotent). `default` makes it the kind's default."""
    kind = checked_type(kind)
    url = checked_url(url, errors.InvalidRedirectUrl)
    existing = _of_type(scope, kind)
    row = next((r for r in existing if r.url == url), None)
    if row is None:
        row = RedirectUrl(
            id=new_id("redirect-url", scope.environment),
            project_id=scope.project_id,
            type=kind,
            url=url,
            is_default=not existing,
            created_at=scope.clock.now(),
        )
        scope.db.add(row)
        audit.record(scope, EventType.REDIRECT_URL_ADDED, url=url, type=kind)
    if default and not row.is_default:
        for other in existing:
            other.is_default = False
        row.is_default = True
        audit.record(scope, EventType.REDIRECT_URL_DEFAULT_SET, url=url, type=kind)
    scope.db.flush()
    return row


def list_redirect_urls(scope: Scope, *, kind: str | None = None) -> Sequence[RedirectUrl]:
    query = select(RedirectUrl).where(RedirectUrl.project_id == scope.project_id)
    if kind is not None:
        query = query.where(RedirectUrl.type == checked_type(kind))
    return scope.db.scalars(query.order_by(RedirectUrl.type, RedirectUrl.created_at)).all()


def remove_redirect_url(scope: Scope, url: str, *, kind: str = "discovery") -> RedirectUrl:
    kind = checked_type(kind)
    rows = _of_type(scope, kind)
    row = next((r for r in rows if r.url == url.strip()), None)
    if row is None:
        raise errors.RedirectUrlNotFound()
    scope.db.delete(row)
    remaining = [r for r in rows if r is not row]
    if row.is_default and remaining:
        remaining[0].is_default = True
    audit.record(scope, EventType.REDIRECT_URL_REMOVED, url=row.url, type=kind)
    scope.db.flush()
    return row


def resolve(scope: Scope, kind: str, requested: str | None) -> str:
    """The URL a link of `kind` must use: `requested` if registered exactly, else the default.

    Raises the kind's Stytch error: malformed URL, no match, or nothing registered.
    """
    invalid, none_set = _TYPE_ERRORS[kind]
    # Every link sent asks this: a pre-built statement for the two columns, no ORM objects.
    rows = (
        db.connection(scope.db)
        .execute(_URLS_OF_TYPE, {"p_project": scope.project_id, "p_type": kind})
        .all()
    )
    if requested:
        url = checked_url(requested, invalid)
        if any(r.url == url for r in rows):
            return url
        raise errors.NoMatchForRedirectUrl()
    default = next((r for r in rows if r.is_default), None)
    if default is None:
        raise none_set()
    return str(default.url)


def _of_type(scope: Scope, kind: str) -> list[RedirectUrl]:
    return list(
        scope.db.scalars(
            select(RedirectUrl)
            .where(RedirectUrl.project_id == scope.project_id, RedirectUrl.type == kind)
            .order_by(RedirectUrl.created_at, RedirectUrl.id)
        )
    )
