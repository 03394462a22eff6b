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

DEMO_FILE = "demo-project.json"


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
    """Allow the reference app's callback (`{public_base_url}/auth/callback`) for discovery,
    and its SSO landing page (`/auth/sso`) for SSO logins and signups."""
    callback = f"{services.settings.public_base_url}/auth/callback"
    with services.scope(demo.project_id, environment_of(demo.project_id), CLI_ACTOR) as scope:
        redirects.add_redirect_url(scope, callback, kind="discovery")
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
