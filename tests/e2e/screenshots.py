"""Refresh docs/screenshots/ from the browser tests:

    python -m tests.e2e.screenshots

Runs tests/e2e (the in-process variants) with ANTECHAMBER_SCREENSHOTS pointing at
docs/screenshots/, after emptying it, then writes docs/screenshots/README.md, an index of the
steps. Tests that are skipped (the SMS flows before SMS MFA is available) leave no images.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.conftest import SCREENSHOTS_ENV

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "docs" / "screenshots"

TITLES = {
    "flow1": "Flow 1: an organization where MFA is optional, member not enrolled",
    "flow2": "Flow 2: create an organization that requires MFA (phone, then code)",
    "flow3": "Flow 3: opt in, sign in through MFA, opt out",
    "expired-link": "An expired sign-in link",
    "wrong-code": "A wrong code",
    "logout-back": "Log out, then Back",
    "sso-oidc": "Sign in with SSO through an OpenID Connect provider (JIT)",
    "sso-saml": "Sign in with SSO through a SAML identity provider (JIT)",
}


def index(folder: Path) -> str:
    lines = [
        "# Screenshots of the reference app",
        "",
        "Made by the browser tests (`tests/e2e/`); refresh with `python -m tests.e2e.screenshots`.",
        "",
    ]
    for prefix, title in TITLES.items():
        shots = sorted(folder.glob(f"{prefix}-*.png"))
        if not shots:
            continue
        lines += [f"## {title}", ""]
        for shot in shots:
            step = re.sub(r"^\d+-", "", shot.stem.removeprefix(f"{prefix}-")).replace("-", " ")
            lines += [f"{step.capitalize()}:", "", f"![{step}]({shot.name})", ""]
    return "\n".join(lines)


def main() -> int:
    FOLDER.mkdir(parents=True, exist_ok=True)
    for old in FOLDER.glob("*.png"):
        old.unlink()
    env = {**os.environ, SCREENSHOTS_ENV: str(FOLDER)}
    code = subprocess.call(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/e2e",
            "-k",
            "not stytch",
        ],
        cwd=ROOT,
        env=env,
    )
    (FOLDER / "README.md").write_text(index(FOLDER))
    print(f"{len(list(FOLDER.glob('*.png')))} screenshots in {FOLDER.relative_to(ROOT)}")
    return code


if __name__ == "__main__":
    sys.exit(main())
