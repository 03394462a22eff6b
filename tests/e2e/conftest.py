"""Browser tests of the reference app: Debian's Chromium through Playwright, against a live
server in development mode (links and codes are read from the development inbox page).

Every step is screenshotted into test-artifacts/webapp/<test>/ (gitignored), or, when
ANTECHAMBER_SCREENSHOTS names a folder (`python -m tests.e2e.screenshots` does), into that
folder as <prefix>-NN-<step>.png for the README.

The `stytch` variant runs the app as its own process (`antechamber webapp --backend stytch`)
against the live Antechamber server, through the official SDK.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

import antechamber
from antechamber.services import Services
from antechamber.settings import Settings
from tests.conftest import Credentials, LiveServer, bound_socket, serving
from tests.factories import allow_redirect

try:
    from playwright.sync_api import Browser, Page, expect
except ImportError:  # pragma: no cover - playwright is a test dependency
    pytest.skip("needs playwright", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "webapp"
SCREENSHOTS_ENV = "ANTECHAMBER_SCREENSHOTS"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ShiftedClock:
    """Wall-clock time plus an offset the test may move forward: messages keep their real
    order in the inbox (a frozen clock would give them one timestamp), and a test can still
    age a link past its expiry."""

    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        with self._lock:
            self._offset += delta or timedelta(**kwargs)
        return self.now()


@pytest.fixture
def clock() -> ShiftedClock:
    return ShiftedClock()


@pytest.fixture
def server_socket() -> Iterator[socket.socket]:
    """The live server's socket, bound before the settings name its port."""
    sock = bound_socket()
    yield sock
    sock.close()


@pytest.fixture
def server_port(server_socket: socket.socket) -> int:
    return int(server_socket.getsockname()[1])


@pytest.fixture
def settings(settings: Settings, server_port: int) -> Settings:
    """Development mode, reachable where the links point (the port is chosen first)."""
    return settings.model_copy(
        update={"dev": True, "public_base_url": f"http://127.0.0.1:{server_port}"}
    )


@pytest.fixture
def live_server(
    app: FastAPI, server_socket: socket.socket, server_port: int, project: Credentials
) -> Iterator[LiveServer]:
    """The app on the chosen port, with the demo project made first (as `antechamber dev`)."""
    config = uvicorn.Config(app, host="127.0.0.1", port=server_port, log_level="warning")
    with serving(config, server_socket):
        yield LiveServer(f"http://127.0.0.1:{server_port}", server_port)


class Steps:
    """Numbered screenshots of a test's steps (see the module docstring for where)."""

    def __init__(self, page: Page, name: str, prefix: str | None) -> None:
        self.page = page
        chosen = os.environ.get(SCREENSHOTS_ENV)
        if chosen and prefix:
            self.folder = Path(chosen)
            self.prefix = f"{prefix}-"
        else:
            self.folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", name)
            self.prefix = ""
            for old in self.folder.glob("*.png") if self.folder.exists() else []:
                old.unlink()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def shot(self, label: str) -> None:
        self.count += 1
        path = self.folder / f"{self.prefix}{self.count:02d}-{label}.png"
        self.page.screenshot(path=str(path), full_page=True)


@dataclass
class Person:
    """Someone at a browser: the app's address, the inbox's, and their screenshots."""

    page: Page
    app_url: str
    inbox_url: str
    steps: Steps
    csp_violations: list[str] = field(default_factory=list)

    def go(self, path: str) -> None:
        self.page.goto(self.app_url + path)

    def read_inbox_code(self, phone: str) -> str:
        """The newest code texted to `phone`, read from the development inbox in a tab."""
        tab = self.page.context.new_page()
        try:
            # The inbox is a static page: reload it until the text is there (a loaded machine
            # may show the page before the send's transaction is visible).
            for _ in range(60):
                tab.goto(f"{self.inbox_url}?to={quote(phone)}")
                codes = tab.locator("article.message .code")
                if codes.count():
                    return codes.first.inner_text().strip()
                tab.wait_for_timeout(500)
            raise AssertionError(f"no code for {phone} in the development inbox")
        finally:
            tab.close()

    def sign_in_by_email(self, email: str, *, shots: bool = True) -> None:
        """Sign-in page → email → check your email → inbox → link → Continue → discovery."""
        self.go("/")
        if shots:
            self.steps.shot("sign-in")
        self.page.get_by_label("Work email").fill(email)
        self.page.get_by_role("button", name="Continue").click()
        expect(self.page.get_by_role("heading", name="Check your email")).to_be_visible()
        if shots:
            self.steps.shot("check-your-email")
        self.page.get_by_role("link", name="Open the development inbox").click()
        expect(self.page.get_by_role("heading", name="Development inbox")).to_be_visible()
        if shots:
            self.steps.shot("development-inbox")
        self.page.locator("article.message", has_text=email).first.locator(".link a").click()
        expect(self.page.get_by_role("heading", name="Finish signing in")).to_be_visible()
        if shots:
            self.steps.shot("callback")
        self.page.get_by_role("button", name="Continue").click()
        expect(self.page.get_by_role("heading", name="Choose an organization")).to_be_visible()
        if shots:
            self.steps.shot("discovery")


def person(
    browser: Browser,
    app_url: str,
    inbox_url: str,
    request: pytest.FixtureRequest,
    prefix: str | None = None,
    *,
    javascript: bool = True,
) -> Person:
    context = browser.new_context(
        viewport={"width": 1024, "height": 760}, java_script_enabled=javascript
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    found = Person(page, app_url, inbox_url, Steps(page, request.node.name, prefix))
    page.on(
        "console",
        lambda msg: (
            found.csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None
        ),
    )
    return found


@dataclass(frozen=True)
class AppUnderTest:
    """Where the reference app is, and where the development inbox is."""

    kind: str
    url: str
    inbox_url: str


def _start_stytch_webapp(
    live_server: LiveServer, project: Credentials, cwd: Path
) -> tuple[subprocess.Popen[str], str]:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTECHAMBER_", "STYTCH_"))}
    env["PYTHONPATH"] = str(Path(antechamber.__file__).parent.parent)
    env["ANTECHAMBER_LOG_LEVEL"] = "warning"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "antechamber",
            "webapp",
            "--backend",
            "stytch",
            "--base-url",
            live_server.url,
            "--project-id",
            project.project_id,
            "--secret",
            project.secret,
            "--port",
            str(port),
            "--dev",
        ],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"antechamber webapp exited: {proc.stderr.read() if proc.stderr else ''}"
            )
        try:
            httpx.get(url + "/assets/app.css", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("antechamber webapp did not start")


@pytest.fixture(params=["inprocess", "stytch"])
def app_under_test(
    request: pytest.FixtureRequest,
    live_server: LiveServer,
    services: Services,
    project: Credentials,
    tmp_path: Path,
) -> Iterator[AppUnderTest]:
    inbox = f"{live_server.url}/dev/outbox"
    if request.param == "inprocess":
        yield AppUnderTest("inprocess", live_server.url, inbox)
        return
    proc, url = _start_stytch_webapp(live_server, project, tmp_path)
    allow_redirect(services, project.project_id, f"{url}/auth/callback")
    try:
        yield AppUnderTest("stytch", url, inbox)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
