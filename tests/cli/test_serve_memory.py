"""What `antechamber serve` sets up for a long-lived process's memory."""

from __future__ import annotations

import gc
import os
from pathlib import Path

import pytest

from antechamber import asgi
from antechamber.cli import server


def test_serve_limits_malloc_arenas_for_itself_and_its_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert server._limit_malloc_arenas() is True  # glibc here
    assert os.environ["MALLOC_ARENA_MAX"] == "2"  # read by the worker and delivery processes


def test_an_operators_malloc_arena_max_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert server._limit_malloc_arenas() is False
    assert os.environ["MALLOC_ARENA_MAX"] == "8"


def test_the_served_app_freezes_its_startup_heap(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANTECHAMBER_DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    before = gc.get_freeze_count()
    try:
        asgi.app_factory()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()  # this test process collects as before
