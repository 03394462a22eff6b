"""The quick start: `antechamber dev` starts a server and prints credentials that work, and
the same ones after a restart."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import antechamber


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cwd: Path, port: int) -> tuple[subprocess.Popen[str], str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTECHAMBER_")}
    env["PYTHONPATH"] = str(Path(antechamber.__file__).parent.parent)
    proc = subprocess.Popen(
        [sys.executable, "-m", "antechamber", "dev", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    output = ""
    deadline = time.monotonic() + 60
    while "Demo secret" not in output and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        output += line
    pid = re.search(r"Demo project id:\s+(\S+)", output)
    secret = re.search(r"Demo secret:\s+(\S+)", output)
    assert pid, output
    assert secret, output
    for _ in range(200):
        try:
            httpx.get(f"http://127.0.0.1:{port}/v1/b2b/organizations/x", timeout=1)
            break
        except httpx.TransportError:
            time.sleep(0.05)
    return proc, pid.group(1), secret.group(1)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_dev_prints_working_credentials_that_survive_restart(tmp_path: Path) -> None:
    port = _free_port()
    proc, pid, secret = _start(tmp_path, port)
    try:
        response = httpx.post(
            f"http://127.0.0.1:{port}/v1/b2b/organizations",
            json={"organization_name": "Acme"},
            auth=(pid, secret),
        )
        assert response.status_code == 200, response.text
    finally:
        _stop(proc)
    assert (tmp_path / "antechamber.db").exists()

    proc, pid_again, secret_again = _start(tmp_path, port)
    try:
        assert (pid_again, secret_again) == (pid, secret)
        found = httpx.post(
            f"http://127.0.0.1:{port}/v1/b2b/organizations/search", json={}, auth=(pid, secret)
        ).json()
        assert found["results_metadata"]["total"] == 1
    finally:
        _stop(proc)


def test_dev_serves_the_reference_app_with_links_to_its_own_port(tmp_path: Path) -> None:
    """On any --port, the reference app's callback is registered where the server listens."""
    port = _free_port()
    proc, _, _ = _start(tmp_path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        page = httpx.get(f"{base}/")
        assert page.status_code == 200
        assert "Sign in" in page.text
        assert 'href="/dev/outbox"' in page.text
        sent = httpx.post(f"{base}/api/discovery/start", json={"email": "ada@acme.example"})
        assert sent.status_code == 200, sent.text
        inbox = httpx.get(f"{base}/dev/outbox").text
        assert f"{base}/auth/callback?" in inbox
    finally:
        _stop(proc)
