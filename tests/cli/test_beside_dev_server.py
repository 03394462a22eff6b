"""Commands run in the directory of a development server just work, as its banner suggests,
without setting ANTECHAMBER_DEV or a secret key by hand."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

import antechamber
from antechamber.devmode import beside_dev_server, forget_dev_server, mark_dev_server
from antechamber.settings import load_settings
from tests.cli.test_dev_server import _free_port, _start, _stop

PUBLIC = "http://127.0.0.1:8123"


def _cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")}
    clean["PYTHONPATH"] = str(Path(antechamber.__file__).parent.parent)
    return subprocess.run(
        [sys.executable, "-m", "antechamber", *args],
        cwd=cwd,
        env=clean | env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_outbox_and_other_commands_work_beside_the_dev_server(tmp_path: Path) -> None:
    port = _free_port()
    proc, _, _ = _start(tmp_path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        sent = httpx.post(f"{base}/api/discovery/start", json={"email": "ada@acme.example"})
        assert sent.status_code == 200, sent.text

        inbox = _cli(tmp_path, "outbox", "--json")
        assert inbox.returncode == 0, inbox.stderr
        [message] = json.loads(inbox.stdout)
        # The link is shown (development inbox) and points where the server listens.
        assert f"{base}/auth/callback?" in json.dumps(message)

        orgs = _cli(tmp_path, "orgs", "list")
        assert orgs.returncode == 0, orgs.stderr

        # Saying otherwise still wins.
        production = _cli(tmp_path, "outbox", ANTECHAMBER_DEV="false")
        assert production.returncode == 2
        assert "ANTECHAMBER_SECRET_KEY" in production.stderr
    finally:
        _stop(proc)


def test_only_the_dev_servers_own_database_and_directory(tmp_path: Path) -> None:
    dev = load_settings(_env_file=None, state_dir=tmp_path, dev=True, public_base_url=PUBLIC)
    mark_dev_server(dev)
    same = load_settings(_env_file=None, state_dir=tmp_path)
    assert beside_dev_server(same).dev
    assert beside_dev_server(same).public_base_url == PUBLIC
    other_db = load_settings(_env_file=None, state_dir=tmp_path, database_url="sqlite:///x.db")
    assert not beside_dev_server(other_db).dev
    elsewhere = load_settings(_env_file=None, state_dir=tmp_path / "elsewhere")
    assert not beside_dev_server(elsewhere).dev
    forget_dev_server(dev)
    assert not beside_dev_server(same).dev
