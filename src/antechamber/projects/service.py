"""Projects and their API secrets.

Secrets: `secret-<env>-<random>` (256 bits), shown once by `create_project` / `add_secret`,
stored as SHA-256. `authenticate` checks a `project_id:secret` pair in constant time.
A revoked secret stops authenticating as soon as the revocation commits in the process that
made it, and within `VERIFIED_SECRET_SECONDS` in every other process (`authenticate`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from antechamber import tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import Clock
from antechamber.db import on_commit
from antechamber.errors import BadRequest, Forbidden, NotFound, Unauthorized
from antechamber.ids import Environment, new_id
from antechamber.projects.models import Project, ProjectSecret
from antechamber.scope import Scope
from antechamber.settings import Settings


class ProjectNotFound(NotFound):
    error_type = "project_not_found"
    default_message = "Project could not be found."


class SecretNotFound(NotFound):
    error_type = "secret_not_found"
    default_message = "Secret could not be found."


class InternalProjectHasNoSecrets(Forbidden):
    error_type = "internal_project_has_no_secrets"
    default_message = (
        "This is the console's internal project; it has no API secrets. Operators sign in "
        "to the console instead (see: antechamber operators --help)."
    )


class InvalidProjectName(BadRequest):
    error_type = "invalid_project_name"
    default_message = "A project name is 1 to 128 characters."


@dataclass(frozen=True)
class IssuedSecret:
    """A new secret: `secret` is the only copy of the plaintext there will ever be."""

    secret_id: str
    secret: str
    project_id: str


def create_project(
    db: Session,
    *,
    name: str,
    environment: Environment,
    actor: str,
    clock: Clock,
    settings: Settings,
) -> tuple[Project, IssuedSecret]:
    name = name.strip()
    if not 1 <= len(name) <= 128:
        raise InvalidProjectName()
    project = Project(
        id=new_id("project", environment),
        name=name,
        environment=environment,
        created_at=clock.now(),
    )
    db.add(project)
    db.flush()
    scope = Scope(db, project.id, environment, actor, clock, settings)
    audit.record(scope, EventType.PROJECT_CREATED, name=name)
    return project, add_secret(scope)


def create_internal_project(
    db: Session,
    *,
    name: str,
    purpose: str,
    actor: str,
    clock: Clock,
    settings: Settings,
) -> Project:
    """A project the server keeps for itself (`purpose`, e.g. "operators"), without secrets:
    nothing reaches it through the API. Raises IntegrityError if one with `purpose` exists."""
    project = Project(
        id=new_id("project", "live"),
        name=name,
        environment="live",
        internal_purpose=purpose,
        created_at=clock.now(),
    )
    db.add(project)
    db.flush()
    scope = Scope(db, project.id, "live", actor, clock, settings)
    audit.record(scope, EventType.PROJECT_CREATED, name=name, internal_purpose=purpose)
    return project


def add_secret(scope: Scope) -> IssuedSecret:
    """Issue one more live secret; the existing ones stay valid until revoked.

    Internal projects refuse: a secret would let an API caller edit the operators."""
    project = get_project(scope.db, scope.project_id)
    if project.internal_purpose is not None:
        raise InternalProjectHasNoSecrets()
    secret = tokens.new_secret(scope.environment)
    row = ProjectSecret(
        id=new_id("secret-id", scope.environment),
        project_id=scope.project_id,
        secret_digest=tokens.digest(secret),
        last_four=secret[-4:],
        created_at=scope.clock.now(),
    )
    scope.db.add(row)
    audit.record(scope, EventType.PROJECT_SECRET_CREATED, secret_id=row.id)
    return IssuedSecret(row.id, secret, scope.project_id)


def revoke_secret(scope: Scope, secret_id: str) -> ProjectSecret:
    row = scope.db.get(ProjectSecret, secret_id)
    if row is None or row.project_id != scope.project_id or row.revoked_at is not None:
        raise SecretNotFound()
    row.revoked_at = scope.clock.now()
    audit.record(scope, EventType.PROJECT_SECRET_REVOKED, secret_id=secret_id)
    on_commit(scope.db, partial(_forget, row.secret_digest))
    return row


def get_project(db: Session, project_id: str) -> Project:
    project = db.get(Project, project_id)
    if project is None:
        raise ProjectNotFound()
    return project


def get_customer_project(db: Session, project_id: str) -> Project:
    """A project people created; the console's internal project is "not found" here."""
    project = get_project(db, project_id)
    if project.internal_purpose is not None:
        raise ProjectNotFound()
    return project


def list_projects(db: Session, *, include_internal: bool = False) -> Sequence[Project]:
    """Projects, oldest first; internal ones (the operators project) only when asked."""
    query = select(Project).order_by(Project.created_at, Project.id)
    if not include_internal:
        query = query.where(Project.internal_purpose.is_(None))
    return db.scalars(query).all()


def live_secrets(project: Project) -> list[ProjectSecret]:
    """The secrets that still authenticate, oldest first."""
    return [s for s in project.secrets if s.revoked_at is None]


@dataclass(frozen=True)
class Caller:
    """Who a Basic-auth pair authenticated: a project, through one of its live secrets."""

    project_id: str
    secret_id: str


#: How long this process trusts a secret it has checked against the database without asking
#: again: a revocation made by another process (the CLI, another `serve` worker) takes effect
#: here within this many seconds; one made in this process, at its commit.
VERIFIED_SECRET_SECONDS = 5.0
# Secret digest -> (project id, secret id, monotonic time checked). Only secrets found live are
# kept, so its size is bounded by the live secrets, whatever callers send. `_generation` moves
# on every revocation in this process: a check that read the database before a revocation
# committed must not put the secret back (`authenticate`).
_verified: dict[str, tuple[str, str, float]] = {}
_verified_lock = threading.Lock()
_generation = 0


def authenticate(db: Session, project_id: str, secret: str) -> Caller:
    """The project and secret for a Basic-auth pair, or `Unauthorized`.

    Looks the secret up by digest (in this process's recently checked secrets, else an index
    hit), then checks in constant time that it belongs to `project_id`; every failure is the
    same error, so nothing tells a wrong id from a wrong secret. Finding a digest, in a dict or
    an index, reveals no more than the answer does: whether that secret exists.
    """
    digest = tokens.digest(secret)
    now = time.monotonic()
    with _verified_lock:
        known = _verified.get(digest)
        generation = _generation
    if known is None or now - known[2] >= VERIFIED_SECRET_SECONDS:
        row = db.connection().execute(_LIVE_SECRET, {"digest": digest}).one_or_none()
        if row is None:
            raise Unauthorized()
        known = (row.project_id, row.id, now)
        with _verified_lock:
            if generation == _generation:
                _verified[digest] = known
    if not tokens.same(known[0], project_id):
        raise Unauthorized()
    return Caller(known[0], known[1])


def _forget(digest: str) -> None:
    global _generation
    with _verified_lock:
        _generation += 1
        _verified.pop(digest, None)


# On every API request whose secret this process has not checked lately: one indexed read of
# two columns (no ORM entity), built once. A secret's project exists (the foreign key cascades).
_LIVE_SECRET = select(ProjectSecret.id, ProjectSecret.project_id).where(
    ProjectSecret.secret_digest == bindparam("digest"), ProjectSecret.revoked_at.is_(None)
)
