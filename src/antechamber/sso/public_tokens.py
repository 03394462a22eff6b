"""Projects' public tokens (`public-token-test-<uuid>`): the name of a project in a browser URL.

Not a secret: it appears in page source and in `/v1/public/sso/start?public_token=…`. It says
which project a browser flow belongs to, nothing more; what such a flow may do is bounded by
the project's registered redirect URLs and its connections. A project has one live token,
made on first use (`ensure`); `rotate` retires it and makes another.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from antechamber.audit import service as audit
from antechamber.ids import Environment
from antechamber.scope import Scope
from antechamber.sso import errors
from antechamber.sso.events import SsoEvent
from antechamber.sso.models import PublicToken


def live(scope: Scope) -> PublicToken | None:
    """The project's live public token, if it has one (reads only)."""
    return scope.db.scalar(
        select(PublicToken)
        .where(PublicToken.project_id == scope.project_id, PublicToken.revoked_at.is_(None))
        .order_by(PublicToken.created_at.desc())
        .limit(1)
    )


def ensure(scope: Scope) -> PublicToken:
    """The project's live public token, made now if it has none."""
    return live(scope) or _new(scope)


def rotate(scope: Scope) -> PublicToken:
    """Retire the live token (browser flows naming it stop at once) and make a new one."""
    now = scope.clock.now()
    for row in scope.db.scalars(
        select(PublicToken).where(
            PublicToken.project_id == scope.project_id, PublicToken.revoked_at.is_(None)
        )
    ):
        row.revoked_at = now
    return _new(scope)


def project_of(session: Session, token: str | None) -> tuple[str, Environment]:
    """The project a live public token names (read only)."""
    if not token:
        raise errors.PublicTokenRequired()
    if len(token) > 96 or not token.startswith(("public-token-test-", "public-token-live-")):
        raise errors.PublicTokenNotFound()
    row = session.get(PublicToken, token)
    if row is None or row.revoked_at is not None:
        raise errors.PublicTokenNotFound()
    environment: Environment = "live" if token.startswith("public-token-live-") else "test"
    return row.project_id, environment


def _new(scope: Scope) -> PublicToken:
    row = PublicToken(
        id=f"public-token-{scope.environment}-{uuid.uuid4()}",
        project_id=scope.project_id,
        created_at=scope.clock.now(),
        revoked_at=None,
    )
    scope.db.add(row)
    scope.db.flush()
    audit.record(scope, SsoEvent.PUBLIC_TOKEN_CREATED, public_token=row.id)
    return row
