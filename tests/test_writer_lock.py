"""`writer_lock.WriterLock`: the lock file stays open per process, and a forked child never
shares its parent's `flock`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from antechamber import writer_lock
from antechamber.writer_lock import WriterLock
from tests.locks import another_process_sees


def test_the_lock_file_is_opened_once_and_flocked_per_holder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: str, *args: int) -> int:
        opened.append(path)
        return real_open(path, *args)

    monkeypatch.setattr(writer_lock.os, "open", counting_open)
    database = str(tmp_path / "a.sqlite")
    lock = WriterLock(database)
    for _ in range(3):
        with lock:
            assert another_process_sees(database) == "held"
        assert another_process_sees(database) == "free"
    with lock.held_if_free() as held:
        assert held
        assert another_process_sees(database) == "held"
    assert another_process_sees(database) == "free"
    assert opened == [f"{database}-writer.lock"]


def test_a_forked_child_takes_the_lock_file_apart_from_its_parent(tmp_path: Path) -> None:
    """The descriptor a child inherits shares its parent's `flock`: were the child to lock
    through it, the parent would take the lock the child holds (a lock on the same open file
    is no conflict), and the child's unlock would free the parent's."""
    lock = WriterLock(str(tmp_path / "a.sqlite"))
    with lock:  # the file is open in the parent before the fork
        pass
    child_holds, parent_saw = os.pipe(), os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child
        try:
            with lock:
                os.write(child_holds[1], b"h")
                os.read(parent_saw[0], 1)  # hold until the parent has tried
            os._exit(0)
        finally:
            os._exit(1)
    try:
        assert os.read(child_holds[0], 1) == b"h"
        with lock.held_if_free() as held:
            assert not held  # another process holds it
    finally:
        os.write(parent_saw[1], b"t")
        _, status = os.waitpid(child, 0)
        for fd in (*child_holds, *parent_saw):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    with lock.held_if_free() as held:  # the child's release freed it
        assert held
