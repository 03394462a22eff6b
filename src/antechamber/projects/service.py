"""Projects and their API secrets.

Secrets: `secret-<env>-<random>` (256 bits), shown once by `create_project` / `add_secret`,
stored as SHA-256. `authenticate` checks a `project_id:secret` pair in constant time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from antechamber import tokens
from antechamber.audit import service as audit
from antechamber.audit.events import EventType
from antechamber.clock import Clock
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


def authenticate(db: Session, project_id: str, secret: str) -> tuple[Project, ProjectSecret]:
    """The project and secret row for a Basic-auth pair, or `Unauthorized`.

    Looks the secret up by digest (an index hit), then checks it belongs to the project and
    is live; every failure is the same error, so nothing tells a wrong id from a wrong secret.
    """
    found = db.execute(_SECRET_AND_PROJECT, {"digest": tokens.digest(secret)}).one_or_none()
    if found is None:
        raise Unauthorized()
    row, project = found
    if row.revoked_at is not None or not tokens.same(row.project_id, project_id):
        raise Unauthorized()
    return project, row


# On every API request: one statement (not a second lazy load for the project), built once.
_SECRET_AND_PROJECT = (
    select(ProjectSecret, Project)
    .join(Project, Project.id == ProjectSecret.project_id)
    .where(ProjectSecret.secret_digest == bindparam("digest"))
)
