"""Development mode's demo project: created on the first start, the same one on every restart.

The demo credentials are kept in `state_dir/demo-project.json` (mode 0600) because the database
holds only the secret's digest; development mode prints them at every start.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from antechamber import db
from antechamber.errors import Unauthorized
from antechamber.ids import environment_of
from antechamber.projects import service as projects
from antechamber.redirects import service as redirects
from antechamber.scope import CLI_ACTOR
from antechamber.services import Services
from antechamber.settings import Settings

DEMO_FILE = "demo-project.json"
#: Written by `antechamber dev`: this directory's database is a development one (its URL and
#: the public base URL the server prints links with), so commands run beside it just work.
DEV_SERVER_FILE = "dev-server.json"


@dataclass(frozen=True)
class DemoProject:
    project_id: str
    secret: str


def demo_project(services: Services) -> DemoProject | None:
    """The saved demo project, if its file exists and its secret still works."""
    path = services.settings.state_dir / DEMO_FILE
    if not path.exists():
        return None
    try:
        saved = json.loads(path.read_text())
        demo = DemoProject(saved["project_id"], saved["secret"])
    except (ValueError, KeyError, TypeError):
        return None
    with db.transaction(services.sessions) as session:
        try:
            projects.authenticate(session, demo.project_id, demo.secret)
        except Unauthorized:
            return None
    return demo


def ensure_demo_project(services: Services) -> DemoProject:
    """The demo project, made on the first call; in development mode with its callback URL."""
    demo = demo_project(services) or _create_demo_project(services)
    if services.settings.dev:
        ensure_demo_redirect_urls(services, demo)
    return demo


def ensure_demo_redirect_urls(services: Services, demo: DemoProject) -> None:
    """Allow the reference app's callback (`{public_base_url}/auth/callback`, and
    `{webapp_public_url}/auth/callback` when the app's links go to a separate frontend) for
    discovery links and for invitations (the app's Members section sends them there), and its
    SSO landing page (`/auth/sso`) for SSO logins and signups."""
    callbacks = [f"{services.settings.public_base_url}/auth/callback"]
    if services.settings.webapp_public_url:
        callbacks.append(f"{services.settings.webapp_public_url}/auth/callback")
    with services.scope(demo.project_id, environment_of(demo.project_id), CLI_ACTOR) as scope:
        for callback in callbacks:
            redirects.add_redirect_url(scope, callback, kind="discovery")
            redirects.add_redirect_url(scope, callback, kind="invite")
        # Sign in with SSO lands on the app's /auth/sso (webapp/sso.py).
        landing = f"{services.settings.public_base_url}/auth/sso"
        redirects.add_redirect_url(scope, landing, kind="login")
        redirects.add_redirect_url(scope, landing, kind="signup")


def _create_demo_project(services: Services) -> DemoProject:
    with db.transaction(services.sessions) as session:
        project, issued = projects.create_project(
            session,
            name="Demo project",
            environment="test",
            actor=CLI_ACTOR,
            clock=services.clock,
            settings=services.settings,
        )
    demo = DemoProject(project.id, issued.secret)
    state = services.settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    path = state / DEMO_FILE
    path.write_text(json.dumps({"project_id": demo.project_id, "secret": demo.secret}))
    path.chmod(0o600)
    return demo


def mark_dev_server(settings: Settings) -> None:
    """Record, for the CLI, that `settings.database_url` is served in development mode."""
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    path = state / DEV_SERVER_FILE
    record = {"database_url": settings.database_url, "public_base_url": settings.public_base_url}
    path.write_text(json.dumps(record))
    path.chmod(0o600)


def forget_dev_server(settings: Settings) -> None:
    """A server started outside development mode on this state: commands follow its settings."""
    (settings.state_dir / DEV_SERVER_FILE).unlink(missing_ok=True)


def beside_dev_server(settings: Settings) -> Settings:
    """`settings` as a command run beside a development server needs them.

    In the directory where `antechamber dev` runs (its state_dir records it, for the same
    database), a command is in development mode too, and prints links with the server's
    public base URL, unless `ANTECHAMBER_DEV` (or `ANTECHAMBER_PUBLIC_BASE_URL`) says otherwise.
    Without that, `antechamber outbox` there failed for want of ANTECHAMBER_SECRET_KEY.
    """
    if settings.dev or "dev" in settings.model_fields_set:
        return settings
    path = settings.state_dir / DEV_SERVER_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return settings
    if not isinstance(record, dict) or record.get("database_url") != settings.database_url:
        return settings
    update: dict[str, object] = {"dev": True}
    public = record.get("public_base_url")
    if isinstance(public, str) and "public_base_url" not in settings.model_fields_set:
        update["public_base_url"] = public
    return settings.model_copy(update=update)
